/*
 * Membership changes on the leader (consensus_membership.c), against a real Raft core
 * and the fake I/O table: joins answered when their configuration commits, changes
 * queued behind the one in flight, rejoins that change nothing, replaced nodes.
 */
#include "consensus_fake.h"
#include "unit.h"

struct join_args {
	const char *id, *addr;
	bool voter;
};

static void
fill_join(struct ipc_writer *w, void *arg)
{
	const struct join_args *j = arg;

	ipc_add_str(w, "id", j->id);
	ipc_add_str(w, "addr", j->addr);
	ipc_add_bool(w, "voter", j->voter);
}

/* A PEER_JOIN from connection handle, as request id (handle * 10). */
static void
join(struct cs_fake *f, uint64_t handle, const char *id, const char *addr, bool voter)
{
	struct join_args j = { id, addr, voter };
	struct ipc_writer w;
	struct ipc_msg m;

	cs_fake_msg(&m, &w, IPC_PEER_JOIN, handle * 10, fill_join, &j);
	cs_membership_serve_join(&f->c, handle, &m);
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);
}

static bool
in_config(struct cs_fake *f, const char *id)
{
	return raft_config_get(raft_configuration(f->c.raft), id) != NULL;
}

UNIT_TEST(a_join_is_answered_on_its_connection_once_its_configuration_commits)
{
	struct cs_fake f;
	struct cs_fake_frame *a;

	cs_fake_init(&f);
	cs_fake_lead(&f);
	join(&f, 7, "2", "127.0.0.1:7002", false);
	CHECK_INT_EQ(f.n_sent, 0);	/* appended, not yet committed */
	cs_fake_run(&f);
	CHECK(in_config(&f, "2"));
	a = cs_fake_last(&f, IPC_PEER_JOIN_RESULT);
	CHECK(a != NULL);
	CHECK_INT_EQ(a->dest, CS_FAKE_REPLY);
	CHECK_INT_EQ(a->handle, 7);
	CHECK_INT_EQ(a->m.request_id, 70);
	CHECK_INT_EQ(ipc_get_error(&a->m, NULL, NULL), IPC_EC_NONE);
	CHECK_INT_EQ(f.c.fwd.served.join, 1);
	cs_fake_free(&f);
}

UNIT_TEST(a_join_during_another_change_waits_and_is_answered_after_it_in_order)
{
	struct cs_fake f;

	cs_fake_init(&f);
	cs_fake_lead(&f);
	join(&f, 7, "2", "127.0.0.1:7002", false);
	join(&f, 8, "3", "127.0.0.1:7003", false);
	CHECK_INT_EQ(f.c.mem.queued, 1);
	CHECK_INT_EQ(f.n_sent, 0);	/* the second is not refused */
	cs_fake_run(&f);
	CHECK(in_config(&f, "2"));
	CHECK(in_config(&f, "3"));
	CHECK_INT_EQ(f.c.mem.queued, 0);
	CHECK_INT_EQ(f.n_sent, 2);
	CHECK_INT_EQ(cs_fake_sent(&f, 0)->handle, 7);
	CHECK_INT_EQ(cs_fake_sent(&f, 1)->handle, 8);
	CHECK_INT_EQ(ipc_get_error(&cs_fake_sent(&f, 1)->m, NULL, NULL), IPC_EC_NONE);
	cs_fake_free(&f);
}

UNIT_TEST(a_rejoin_that_changes_nothing_is_answered_at_once_and_counted_as_ignored)
{
	struct cs_fake f;
	struct cs_fake_frame *a;

	cs_fake_init(&f);
	cs_fake_lead(&f);
	join(&f, 7, "2", "127.0.0.1:7002", false);
	cs_fake_run(&f);
	cs_fake_clear(&f);
	join(&f, 9, "2", "127.0.0.1:7002", false);
	CHECK_INT_EQ(f.n_sent, 1);
	a = cs_fake_sent(&f, 0);
	CHECK_INT_EQ(a->handle, 9);
	CHECK_INT_EQ(ipc_get_error(&a->m, NULL, NULL), IPC_EC_NONE);
	CHECK_INT_EQ(f.c.mem.ignored, 1);
	CHECK(!raft_has_ready(f.c.raft));	/* nothing appended */
	cs_fake_free(&f);
}

UNIT_TEST(a_node_joining_at_the_address_of_another_id_has_the_old_entry_removed_first)
{
	struct cs_fake f;
	const char *e;
	size_t n;

	cs_fake_init(&f);
	cs_fake_lead(&f);
	join(&f, 7, "2", "127.0.0.1:7002", false);
	cs_fake_run(&f);
	cs_fake_clear(&f);
	join(&f, 8, "5", "127.0.0.1:7002", false);
	CHECK_INT_EQ(f.n_sent, 1);
	CHECK_INT_EQ(ipc_get_error(&cs_fake_sent(&f, 0)->m, &e, &n), IPC_EC_OTHER);
	CHECK(n == 25 && memcmp(e, "removing old entry, retry", n) == 0);
	CHECK_INT_EQ(f.c.mem.removed_before, 1);
	cs_fake_run(&f);
	CHECK(!in_config(&f, "2"));
	CHECK(!in_config(&f, "5"));	/* the joiner retries */
	cs_fake_free(&f);
}

UNIT_TEST(a_join_sent_to_a_follower_answers_not_leader_naming_the_leader)
{
	struct cs_fake f;
	struct cs_fake_frame *a;
	char la[64];

	cs_fake_init(&f);
	cs_fake_follow(&f);
	join(&f, 7, "3", "127.0.0.1:7003", true);
	a = cs_fake_last(&f, IPC_PEER_JOIN_RESULT);
	CHECK(a != NULL);
	CHECK_INT_EQ(ipc_get_error(&a->m, NULL, NULL), IPC_EC_NOT_LEADER);
	CHECK(ipc_get_strbuf(&a->m, "la", la, sizeof(la)) == IPC_OK);
	CHECK_STR_EQ(la, "127.0.0.1:7002");
	cs_fake_free(&f);
}

UNIT_TEST(a_join_without_an_id_is_refused_as_invalid)
{
	struct cs_fake f;

	cs_fake_init(&f);
	cs_fake_lead(&f);
	join(&f, 7, "", "127.0.0.1:7002", true);
	CHECK_INT_EQ(f.n_sent, 1);
	CHECK_INT_EQ(ipc_get_error(&cs_fake_sent(&f, 0)->m, NULL, NULL), IPC_EC_INVALID);
	CHECK_INT_EQ(raft_configuration(f.c.raft)->n, 1);
	cs_fake_free(&f);
}

UNIT_TEST(removing_a_node_not_in_the_cluster_says_so)
{
	struct cs_fake f;
	struct waiter w = { WAITER_MEMBERSHIP, 3, 0, IPC_MEMBERSHIP_RESULT, 0 };
	const char *e;
	size_t n;

	cs_fake_init(&f);
	cs_fake_lead(&f);
	cs_membership_do(&f.c, &w, "remove", "9", false);
	CHECK_INT_EQ(f.n_sent, 1);
	CHECK_INT_EQ(cs_fake_sent(&f, 0)->role, PROC_GATEWAY);
	CHECK_INT_EQ(ipc_get_error(&cs_fake_sent(&f, 0)->m, &e, &n), IPC_EC_OTHER);
	CHECK(n == 25 && memcmp(e, "node not found in cluster", n) == 0);
	cs_fake_free(&f);
}

UNIT_TEST(a_removal_during_a_join_waits_in_the_same_queue)
{
	struct cs_fake f;
	struct waiter w = { WAITER_MEMBERSHIP, 3, 0, IPC_MEMBERSHIP_RESULT, 0 };

	cs_fake_init(&f);
	cs_fake_lead(&f);
	join(&f, 7, "2", "127.0.0.1:7002", false);
	cs_membership_do(&f.c, &w, "remove", "2", false);
	CHECK_INT_EQ(f.c.mem.queued, 1);
	CHECK_INT_EQ(f.n_sent, 0);
	cs_fake_run(&f);
	CHECK(!in_config(&f, "2"));
	CHECK_INT_EQ(f.n_sent, 2);
	CHECK_INT_EQ(cs_fake_sent(&f, 1)->m.type, IPC_MEMBERSHIP_RESULT);
	CHECK_INT_EQ(ipc_get_error(&cs_fake_sent(&f, 1)->m, NULL, NULL), IPC_EC_NONE);
	cs_fake_free(&f);
}

UNIT_TEST(the_queue_of_waiting_changes_is_bounded)
{
	struct cs_fake f;
	char id[16], addr[32];

	cs_fake_init(&f);
	cs_fake_lead(&f);
	join(&f, 1, "2", "127.0.0.1:7002", false);
	for (unsigned i = 0; i < CS_MEMBERSHIP_QUEUE_MAX; i++) {
		snprintf(id, sizeof(id), "n%u", i);
		snprintf(addr, sizeof(addr), "127.0.0.1:%u", 8000 + i);
		join(&f, 10 + i, id, addr, false);
	}
	CHECK_INT_EQ(f.c.mem.queued, CS_MEMBERSHIP_QUEUE_MAX);
	CHECK_INT_EQ(f.n_sent, 0);
	join(&f, 500, "late", "127.0.0.1:9999", false);
	CHECK_INT_EQ(f.n_sent, 1);
	CHECK_INT_EQ(cs_fake_sent(&f, 0)->handle, 500);
	CHECK_INT_EQ(ipc_get_error(&cs_fake_sent(&f, 0)->m, NULL, NULL), IPC_EC_OTHER);
	cs_fake_clear(&f);
	cs_fake_free(&f);
}

UNIT_TEST(a_stepdown_to_itself_is_refused)
{
	struct cs_fake f;
	struct waiter w = { WAITER_MEMBERSHIP, 4, 0, IPC_MEMBERSHIP_RESULT, 0 };
	const char *e;
	size_t n;

	cs_fake_init(&f);
	cs_fake_lead(&f);
	cs_membership_do(&f.c, &w, "stepdown", "1", true);
	CHECK_INT_EQ(ipc_get_error(&cs_fake_sent(&f, 0)->m, &e, &n), IPC_EC_OTHER);
	CHECK(n == 38 && memcmp(e, "cannot step down to the current Leader", n) == 0);
	CHECK_INT_EQ(raft_state(f.c.raft), RAFT_LEADER);
	cs_fake_free(&f);
}

UNIT_MAIN()
