/*
 * Joining a cluster (consensus_join.c), against a real Raft core and the fake I/O
 * table: who is asked, a "not leader" answer followed once, success, giving up, and
 * -bootstrap-expect forming the same configuration from what the others answer.
 */
#include "consensus_fake.h"
#include "unit.h"

static void
joining(struct cs_fake *f, const char *list)
{
	f->opts.join = list;
	f->c.phase = CS_PHASE_JOINING;
}

/* The answer to the fwd request of frame fr: an error code with a leader address, or
 * success when code is IPC_EC_NONE. */
static void
answer(struct cs_fake *f, const struct cs_fake_frame *fr, enum ipc_type type,
    enum ipc_errcode code, const char *la)
{
	struct ipc_writer w;
	struct ipc_msg m;

	ipc_writer_init(&w);
	ipc_begin(&w, type, fr->m.request_id);
	if (code != IPC_EC_NONE)
		ipc_add_error(&w, code, NULL);
	if (la != NULL)
		ipc_add_str(&w, "la", la);
	ipc_finish(&w);
	if (ipc_decode(w.sb.data + 4, w.sb.size - 4, &m) != IPC_OK)
		abort();
	cs_forward_on_answer(&f->c, &m);
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);
}

UNIT_TEST(a_round_asks_every_listed_address_but_its_own)
{
	struct cs_fake f;
	char id[16], addr[64];
	bool voter = false;

	cs_fake_init(&f);
	joining(&f, "127.0.0.1:7002, 127.0.0.1:7001,127.0.0.1:7003");
	CHECK_INT_EQ(cs_join_round(&f.c), CS_JOIN_AGAIN);
	CHECK_INT_EQ(f.n_sent, 2);
	CHECK_STR_EQ(cs_fake_sent(&f, 0)->addr, "127.0.0.1:7002");
	CHECK_STR_EQ(cs_fake_sent(&f, 1)->addr, "127.0.0.1:7003");
	CHECK_INT_EQ(cs_fake_sent(&f, 0)->m.type, IPC_PEER_JOIN);
	CHECK(ipc_get_strbuf(&cs_fake_sent(&f, 0)->m, "id", id, sizeof(id)) == IPC_OK);
	CHECK_STR_EQ(id, "1");
	CHECK(ipc_get_strbuf(&cs_fake_sent(&f, 0)->m, "addr", addr, sizeof(addr)) == IPC_OK);
	CHECK_STR_EQ(addr, "127.0.0.1:7001");
	CHECK(ipc_get_bool(&cs_fake_sent(&f, 0)->m, "voter", &voter) == IPC_OK && voter);
	cs_fake_free(&f);
}

UNIT_TEST(a_not_leader_answer_is_followed_once_to_the_leader_it_names)
{
	struct cs_fake f;

	cs_fake_init(&f);
	joining(&f, "127.0.0.1:7002");
	cs_join_round(&f.c);
	answer(&f, cs_fake_sent(&f, 0), IPC_PEER_JOIN_RESULT, IPC_EC_NOT_LEADER, "127.0.0.1:7009");
	CHECK_INT_EQ(f.n_sent, 2);
	CHECK_STR_EQ(cs_fake_sent(&f, 1)->addr, "127.0.0.1:7009");
	/* The leader named there names yet another: not followed again this round. */
	answer(&f, cs_fake_sent(&f, 1), IPC_PEER_JOIN_RESULT, IPC_EC_NOT_LEADER, "127.0.0.1:7010");
	CHECK_INT_EQ(f.n_sent, 2);
	CHECK_INT_EQ(f.c.phase, CS_PHASE_JOINING);
	cs_fake_free(&f);
}

UNIT_TEST(a_refusal_other_than_not_leader_waits_for_the_next_round)
{
	struct cs_fake f;

	cs_fake_init(&f);
	joining(&f, "127.0.0.1:7002");
	cs_join_round(&f.c);
	answer(&f, cs_fake_sent(&f, 0), IPC_PEER_JOIN_RESULT, IPC_EC_OTHER, "127.0.0.1:7009");
	CHECK_INT_EQ(f.n_sent, 1);
	CHECK_INT_EQ(f.c.phase, CS_PHASE_JOINING);
	cs_fake_free(&f);
}

UNIT_TEST(a_yes_makes_the_node_a_member_and_ends_the_rounds)
{
	struct cs_fake f;

	cs_fake_init(&f);
	joining(&f, "127.0.0.1:7002,127.0.0.1:7003");
	cs_join_round(&f.c);
	answer(&f, cs_fake_sent(&f, 1), IPC_PEER_JOIN_RESULT, IPC_EC_NONE, NULL);
	CHECK_INT_EQ(f.c.phase, CS_PHASE_RUNNING);
	/* A late answer from the other address changes nothing. */
	answer(&f, cs_fake_sent(&f, 0), IPC_PEER_JOIN_RESULT, IPC_EC_NOT_LEADER, "127.0.0.1:7003");
	CHECK_INT_EQ(f.n_sent, 2);
	CHECK_INT_EQ(cs_join_round(&f.c), CS_JOIN_DONE);
	cs_fake_free(&f);
}

UNIT_TEST(a_new_node_gives_up_after_its_join_attempts)
{
	struct cs_fake f;

	cs_fake_init(&f);
	joining(&f, "127.0.0.1:7002");
	f.opts.join_attempts = 2;
	CHECK_INT_EQ(cs_join_round(&f.c), CS_JOIN_AGAIN);
	CHECK_INT_EQ(cs_join_round(&f.c), CS_JOIN_AGAIN);
	CHECK_INT_EQ(cs_join_round(&f.c), CS_JOIN_GAVE_UP);
	CHECK_INT_EQ(f.n_sent, 2);
	cs_fake_free(&f);
}

UNIT_TEST(a_node_with_state_carries_on_when_its_join_addresses_never_answer)
{
	struct cs_fake f;

	cs_fake_init(&f);
	joining(&f, "127.0.0.1:7002");
	f.opts.join_attempts = 1;
	f.c.has_state = true;
	CHECK_INT_EQ(cs_join_round(&f.c), CS_JOIN_AGAIN);
	CHECK_INT_EQ(cs_join_round(&f.c), CS_JOIN_DONE);
	CHECK_INT_EQ(f.c.phase, CS_PHASE_RUNNING);
	cs_fake_free(&f);
}

UNIT_TEST(a_member_that_knows_its_leader_needs_no_join)
{
	struct cs_fake f;

	cs_fake_init(&f);
	cs_fake_follow(&f);
	joining(&f, "127.0.0.1:7002");
	f.c.has_state = true;
	CHECK_INT_EQ(cs_join_round(&f.c), CS_JOIN_DONE);
	CHECK_INT_EQ(f.n_sent, 0);
	CHECK_INT_EQ(f.c.phase, CS_PHASE_RUNNING);
	cs_fake_free(&f);
}

struct meta_args {
	const char *id, *addr;
	bool boot;
	uint64_t expect;
};

static void
meta_answer(struct cs_fake *f, const struct cs_fake_frame *fr, const struct meta_args *a)
{
	struct ipc_writer w;
	struct ipc_msg m;

	ipc_writer_init(&w);
	ipc_begin(&w, IPC_PEER_META_RESULT, fr->m.request_id);
	ipc_add_str(&w, "id", a->id);
	ipc_add_str(&w, "addr", a->addr);
	ipc_add_bool(&w, "boot", a->boot);
	ipc_add_u64(&w, "ex", a->expect);
	ipc_finish(&w);
	if (ipc_decode(w.sb.data + 4, w.sb.size - 4, &m) != IPC_OK)
		abort();
	cs_forward_on_answer(&f->c, &m);
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);
}

UNIT_TEST(bootstrap_expect_forms_one_configuration_of_the_nodes_waiting_sorted_by_id)
{
	struct cs_fake f;
	const struct raft_config *cfg;
	struct meta_args b = { "b", "127.0.0.1:7002", true, 3 };
	struct meta_args a = { "a", "127.0.0.1:7003", true, 3 };

	cs_fake_init(&f);
	joining(&f, "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003");
	f.opts.bootstrap_expect = 3;
	f.opts.bootstrap_expect_timeout_ms = 60000;
	CHECK_INT_EQ(cs_join_round(&f.c), CS_JOIN_AGAIN);
	CHECK_INT_EQ(cs_fake_sent(&f, 0)->m.type, IPC_PEER_META);
	CHECK(cs_join_waiting_to_boot(&f.c));
	meta_answer(&f, cs_fake_sent(&f, 0), &b);
	CHECK_INT_EQ(f.c.phase, CS_PHASE_JOINING);	/* two of three known */
	meta_answer(&f, cs_fake_sent(&f, 1), &a);
	CHECK_INT_EQ(f.c.phase, CS_PHASE_RUNNING);
	cfg = raft_configuration(f.c.raft);
	CHECK_INT_EQ(cfg->n, 3);
	CHECK_STR_EQ(cfg->servers[0].id, "1");
	CHECK_STR_EQ(cfg->servers[1].id, "a");
	CHECK_STR_EQ(cfg->servers[2].id, "b");
	CHECK(!cs_join_waiting_to_boot(&f.c));
	cs_fake_free(&f);
}

UNIT_TEST(bootstrap_expect_ignores_nodes_that_are_not_waiting_to_boot)
{
	struct cs_fake f;
	struct meta_args member = { "b", "127.0.0.1:7002", false, 2 };

	cs_fake_init(&f);
	joining(&f, "127.0.0.1:7002");
	f.opts.bootstrap_expect = 2;
	f.opts.bootstrap_expect_timeout_ms = 1000;
	cs_join_round(&f.c);
	meta_answer(&f, cs_fake_sent(&f, 0), &member);
	CHECK_INT_EQ(f.c.phase, CS_PHASE_JOINING);
	CHECK_INT_EQ(raft_configuration(f.c.raft)->n, 0);
	f.now += 1001;
	CHECK_INT_EQ(cs_join_round(&f.c), CS_JOIN_GAVE_UP);
	cs_fake_free(&f);
}

UNIT_TEST(the_phase_table_allows_only_the_moves_of_a_nodes_life)
{
	CHECK(cs_phase_move_ok(CS_PHASE_JOINING, CS_PHASE_RUNNING));
	CHECK(cs_phase_move_ok(CS_PHASE_RUNNING, CS_PHASE_HANDING_OVER));
	CHECK(cs_phase_move_ok(CS_PHASE_RUNNING, CS_PHASE_LEAVING));
	CHECK(cs_phase_move_ok(CS_PHASE_LEAVING, CS_PHASE_STOPPED));
	CHECK(!cs_phase_move_ok(CS_PHASE_RUNNING, CS_PHASE_JOINING));
	CHECK(!cs_phase_move_ok(CS_PHASE_HANDING_OVER, CS_PHASE_LEAVING));
	CHECK(!cs_phase_move_ok(CS_PHASE_STOPPED, CS_PHASE_RUNNING));
	CHECK(!cs_phase_move_ok(CS_PHASE_STOPPED, CS_PHASE_STOPPED));
	CHECK_STR_EQ(cs_phase_name(CS_PHASE_LEAVING), "LEAVING");
}

UNIT_MAIN()
