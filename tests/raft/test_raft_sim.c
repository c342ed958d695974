/*
 * Seeded random scenarios for the Raft core: clusters of 1–7 nodes (bootstrapped together or
 * grown by joins) under message loss, duplication, reordering, partitions, crashes with lost
 * unsynced or torn writes, snapshots, membership changes, leadership transfers and reads. The
 * simulator checks safety after every step; at the end the faults stop and the cluster must
 * recover (a leader, a new entry committed and applied on every member).
 *
 *   RAFT_SIM_SCENARIOS=N   how many scenarios (default 3000, about 20 s with ASan)
 *   RAFT_SIM_FIRST=S       first seed (default 1); seeds are FIRST..FIRST+N-1
 *   RAFT_SIM_SEED=S        run only scenario S (reproduce a failure)
 *   RAFT_SIM_DEBUG=1       log the cores' state changes
 *   RAFT_SIM_SECONDS=T     stop starting new scenarios after T wall seconds (default 50)
 *   RAFT_SIM_VERBOSE=1     one line per scenario
 */
#include "unit.h"

#include <time.h>

#include "common/log.h"
#include "sim.h"

static uint64_t rng;
static bool env_verbose;

static uint64_t
rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static unsigned
pick(unsigned n)
{
	return n ? (unsigned)(rnd() % n) : 0;
}

static void
node_id(unsigned i, char *buf, size_t len)
{
	snprintf(buf, len, "%u", i + 1);
}

struct final_arg {
	uint64_t index;
	uint64_t term;
};

/* Every up node in the leader's configuration applied our entry (index, term). */
static bool
converged(struct sim *s, void *arg)
{
	struct final_arg *f = arg;
	int l = sim_leader(s);
	if (l < 0)
		return false;
	const struct raft_entry *e = raft_entry_at(sim_raft(s, (unsigned)l), f->index);
	if (e != NULL && e->term != f->term)
		return false;	/* lost: another entry took its place */
	const struct raft_config *c = raft_configuration(sim_raft(s, (unsigned)l));
	for (unsigned k = 0; k < c->n; k++) {
		unsigned i = (unsigned)atoi(c->servers[k].id) - 1;
		if (!sim_up(s, i) || sim_applied(s, i) < f->index)
			return false;
	}
	return true;
}

static bool
has_leader(struct sim *s, void *arg)
{
	(void)arg;
	return sim_leader(s) >= 0;
}

static void
membership_action(struct sim *s, unsigned l)
{
	struct raft *r = sim_raft(s, l);
	const struct raft_config *c = raft_configuration(r);
	char id[16], addr[32];
	unsigned i = pick(sim_n(s));
	const struct raft_server *sv;

	node_id(i, id, sizeof(id));
	sv = raft_config_get(c, id);
	if (sv == NULL) {
		snprintf(addr, sizeof(addr), "node%u:4002", i + 1);
		raft_add_server(r, id, addr, pick(2) ? RAFT_VOTER : RAFT_NONVOTER, NULL);
	} else if (sv->suffrage == RAFT_NONVOTER) {
		raft_assign_suffrage(r, id, RAFT_VOTER, NULL);
	} else if (raft_config_voters(c) > 1 && pick(4) == 0) {
		if (pick(2))
			raft_remove_server(r, id, NULL);
		else
			raft_assign_suffrage(r, id, RAFT_NONVOTER, NULL);
	}
}

/* Returns NULL on success, else the simulator's error or a liveness message. */
static const char *
run_scenario(uint64_t seed, char *why, size_t whylen)
{
	static const unsigned sizes[] = { 1, 2, 3, 3, 3, 4, 5, 5, 7 };
	struct sim_config cfg = { 0 };
	uint64_t cookie = 0;

	rng = seed * 0x9e3779b97f4a7c15ULL + 12345;
	rnd();
	cfg.n_nodes = sizes[pick(9)];
	cfg.n_voters = pick(3) == 0 ? 1 : cfg.n_nodes;
	cfg.net_min_ms = 1;
	cfg.net_max_ms = 1 + pick(25);
	cfg.drop_pct = pick(3) == 0 ? 0 : pick(15);
	cfg.dup_pct = pick(10);
	cfg.disk_min_ms = 0;
	cfg.disk_max_ms = 1 + pick(10);
	cfg.max_inflight = 1 + pick(8);
	cfg.disable_prevote = pick(8) == 0;
	cfg.quiet = true;
	struct sim *s = sim_new(seed, &cfg);
	uint64_t duration = 2000 + pick(4000);
	unsigned n = cfg.n_nodes;

	while (sim_ok(s) && sim_now(s) < duration) {
		int l = sim_leader(s);
		unsigned a = pick(100), i = pick(n);
		if (pick(2) == 0)
			for (unsigned k = 0; k < n; k++)	/* prefer a node that thinks it leads */
				if (sim_up(s, (i + k) % n) &&
				    raft_state(sim_raft(s, (i + k) % n)) == RAFT_LEADER) {
					i = (i + k) % n;
					break;
				}
		if (a < 40) {
			if (l >= 0)
				for (unsigned k = 1 + pick(5); k > 0; k--)
					sim_propose(s, (unsigned)l, NULL);
		} else if (a < 48) {
			/* Any node that believes it leads, stale ones included. */
			if (sim_up(s, i) && raft_state(sim_raft(s, i)) == RAFT_LEADER)
				sim_read(s, i, ++cookie);
			else if (l >= 0)
				sim_read(s, (unsigned)l, ++cookie);
		} else if (a < 53) {
			sim_crash(s, i);
		} else if (a < 63) {
			sim_restart(s, i);
		} else if (a < 67) {
			sim_partition(s, (unsigned)pick(1u << n));
		} else if (a < 73) {
			sim_heal(s);
		} else if (a < 78) {
			sim_snapshot(s, i, pick(10));
		} else if (a < 84) {
			if (l >= 0)
				membership_action(s, (unsigned)l);
		} else if (a < 86) {
			if (l >= 0)
				raft_transfer_leadership(sim_raft(s, (unsigned)l), NULL);
		} else if (a < 88) {
			sim_set_drop(s, pick(3) == 0 ? 0 : pick(20), pick(10));
		} else if (a < 90) {
			sim_isolate(s, i);
		}
		sim_run_for(s, 1 + pick(30));
	}
	if (!sim_ok(s)) {
		if (env_verbose)
			sim_dump(s);
		snprintf(why, whylen, "%s", sim_error(s));
		sim_free(s);
		return why;
	}

	/* Recovery: faults stop, crashed nodes come back. */
	sim_heal(s);
	sim_set_drop(s, 0, 0);
	for (unsigned i = 0; i < n; i++)
		sim_restart(s, i);
	struct final_arg f = { 0 };
	const char *err = NULL;
	/* Like a client: propose on the leader and retry if the entry is lost with it. */
	bool done = false;
	uint64_t deadline = sim_now(s) + 30000;
	while (!done && sim_ok(s) && sim_now(s) < deadline) {
		if (!sim_run_until_pred(s, 1000, has_leader, NULL) ||
		    sim_propose(s, (unsigned)sim_leader(s), &f.index) != 0) {
			sim_run_for(s, 50);
			continue;
		}
		f.term = raft_term(sim_raft(s, (unsigned)sim_leader(s)));
		done = sim_run_until_pred(s, 3000, converged, &f);
	}
	if (!done)
		err = "liveness: no entry committed and applied by all members 30s after healing";
	if (!sim_ok(s))
		err = sim_error(s);
	if (err != NULL) {
		if (env_verbose)
			sim_dump(s);
		snprintf(why, whylen, "%s", err);
		sim_free(s);
		return why;
	}
	if (env_verbose) {
		char d[256];
		sim_describe(s, d, sizeof(d));
		printf("seed %llu: %s\n", (unsigned long long)seed, d);
	}
	sim_free(s);
	return NULL;
}

static uint64_t
env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	return v != NULL && *v != '\0' ? strtoull(v, NULL, 10) : def;
}

UNIT_TEST(random_scenarios_keep_raft_safe_and_recover_once_faults_stop)
{
	uint64_t count = env_u64("RAFT_SIM_SCENARIOS", 3000);
	uint64_t seconds = env_u64("RAFT_SIM_SECONDS", 50);
	const char *one = getenv("RAFT_SIM_SEED");
	char why[1200];
	time_t start = time(NULL);
	uint64_t first = env_u64("RAFT_SIM_FIRST", 1), ran = 0, failed = 0;

	env_verbose = env_u64("RAFT_SIM_VERBOSE", 0) != 0;
	if (env_u64("RAFT_SIM_DEBUG", 0))
		log_init("sim", LOG_LEVEL_DEBUG);
	if (one != NULL && *one != '\0') {
		first = strtoull(one, NULL, 10);
		count = 1;
	}
	for (uint64_t seed = first; seed < first + count; seed++) {
		if (time(NULL) - start >= (time_t)seconds)
			break;
		const char *err = run_scenario(seed, why, sizeof(why));
		ran++;
		if (err != NULL) {
			fprintf(stderr, "    scenario failed: RAFT_SIM_SEED=%llu: %s\n",
			    (unsigned long long)seed, err);
			if (++failed == 10)
				break;
		}
	}
	printf("    %llu scenarios run, %llu failed, in %llds\n", (unsigned long long)ran,
	    (unsigned long long)failed, (long long)(time(NULL) - start));
	CHECK(ran > 0);
	CHECK_INT_EQ(failed, 0);
}

UNIT_MAIN()
