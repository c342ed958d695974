/* Runner for the unit-test harness (see unit.h). */
#include "unit.h"

struct unit_test *unit_tests_head;
static struct unit_test **unit_tail = &unit_tests_head;

void
unit_register(struct unit_test *t)
{
	/* Keep file order so output reads like the source. */
	*unit_tail = t;
	unit_tail = &t->next;
}

int
unit_main(int argc, char **argv)
{
	int passed = 0, failed = 0;
	const char *filter = argc > 1 ? argv[1] : NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (struct unit_test *t = unit_tests_head; t != NULL; t = t->next) {
		int f = 0;
		if (filter != NULL && strstr(t->name, filter) == NULL)
			continue;
		t->fn(&f);
		printf("%s %s\n", f ? "FAIL" : "ok  ", t->name);
		if (f)
			failed++;
		else
			passed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
