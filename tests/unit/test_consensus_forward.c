/*
 * Requests that need the leader (consensus_forward.c), against a real Raft core and the
 * fake I/O table: a follower forwards and relays, a lost link answers at once, the
 * leader serves proposals and reads for followers and answers on their connection.
 */
#include "consensus_fake.h"
#include "ipc_cmd.h"
#include "unit.h"

struct fwd_args {
	const char *op, *level;
	const char *cmd;
	uint64_t kind;
};

static void
fill_cmd(struct ipc_writer *w, void *arg)
{
	const struct fwd_args *a = arg;

	if (a->op != NULL)
		ipc_add_str(w, "op", a->op);
	if (a->level != NULL)
		ipc_add_str(w, "l", a->level);
	if (a->cmd != NULL)
		ipc_add_bin(w, "c", a->cmd, strlen(a->cmd));
	ipc_add_u64(w, "k", a->kind);
}

/* A command the Raft log can carry (opaque to consensus): a msgpack map {k: 1}. */
static const char cmd_execute[] = "\x81\xa1k\x01";
static const char cmd_request[] = "\x81\xa1k\x03";

static bool
has_bin(const struct ipc_msg *m, const char *key, const char *want)
{
	const char *p;
	size_t n;

	return ipc_get_bin(m, key, &p, &n) == IPC_OK && n == strlen(want) &&
	    memcmp(p, want, n) == 0;
}

/* Storage's APPLY_RESULT for entry index of term t with result res. */
static void
apply_result(struct cs_fake *f, uint64_t index, uint64_t t, const char *res)
{
	struct ipc_writer w;
	struct ipc_msg m;

	ipc_writer_init(&w);
	ipc_begin(&w, IPC_APPLY_RESULT, 0);
	ipc_add_u64(&w, "i", index);
	ipc_add_u64(&w, "t", t);
	ipc_add_bin(&w, "res", res, strlen(res));
	ipc_finish(&w);
	if (ipc_decode(w.sb.data + 4, w.sb.size - 4, &m) != IPC_OK)
		abort();
	cs_apply_dispatch_storage(&f->c, &m);
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);
}

UNIT_TEST(a_follower_forwards_a_proposal_to_the_leader_and_relays_its_answer)
{
	struct cs_fake f;
	struct fwd_args a = { NULL, NULL, cmd_execute, IPC_CMD_EXECUTE };
	struct cs_fake_frame *fw, *ans;
	struct ipc_writer w;
	struct ipc_msg m;
	char op[16];

	cs_fake_init(&f);
	cs_fake_follow(&f);
	cs_fake_msg(&m, &w, IPC_PROPOSE, 42, fill_cmd, &a);
	CHECK(cs_forward_propose(&f.c, &m));
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);
	fw = cs_fake_last(&f, IPC_PEER_FORWARD);
	CHECK(fw != NULL);
	CHECK_INT_EQ(fw->dest, CS_FAKE_PEER);
	CHECK_STR_EQ(fw->addr, "127.0.0.1:7002");
	CHECK(ipc_get_strbuf(&fw->m, "op", op, sizeof(op)) == IPC_OK);
	CHECK_STR_EQ(op, "propose");
	CHECK(has_bin(&fw->m, "c", cmd_execute));

	/* The leader's answer comes back under the forward's request id. */
	ipc_writer_init(&w);
	ipc_begin(&w, IPC_PEER_FORWARD_RESULT, fw->m.request_id);
	ipc_add_u64(&w, "i", 5);
	ipc_add_bin(&w, "res", "R", 1);
	ipc_finish(&w);
	CHECK(ipc_decode(w.sb.data + 4, w.sb.size - 4, &m) == IPC_OK);
	cs_forward_on_answer(&f.c, &m);
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);
	ans = cs_fake_last(&f, IPC_PROPOSE_RESULT);
	CHECK(ans != NULL);
	CHECK_INT_EQ(ans->role, PROC_GATEWAY);
	CHECK_INT_EQ(ans->m.request_id, 42);
	CHECK(has_bin(&ans->m, "res", "R"));
	CHECK(f.c.fwd.outs == NULL);
	cs_fake_free(&f);
}

UNIT_TEST(a_forward_whose_link_goes_down_answers_leader_not_reachable_at_once)
{
	struct cs_fake f;
	struct fwd_args a = { NULL, NULL, cmd_execute, IPC_CMD_EXECUTE };
	struct cs_fake_frame *ans;
	struct ipc_writer w;
	struct ipc_msg m;

	cs_fake_init(&f);
	cs_fake_follow(&f);
	cs_fake_msg(&m, &w, IPC_PROPOSE, 43, fill_cmd, &a);
	CHECK(cs_forward_propose(&f.c, &m));
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);
	cs_forward_link_down(&f.c, "127.0.0.1:7002");
	ans = cs_fake_last(&f, IPC_PROPOSE_RESULT);
	CHECK(ans != NULL);
	CHECK_INT_EQ(ans->m.request_id, 43);
	CHECK_INT_EQ(ipc_get_error(&ans->m, NULL, NULL), IPC_EC_LEADER_UNREACHABLE);
	CHECK(f.c.fwd.outs == NULL);
	cs_fake_free(&f);
}

UNIT_TEST(a_forward_that_cannot_be_sent_is_not_kept)
{
	struct cs_fake f;
	struct fwd_args a = { NULL, NULL, cmd_execute, IPC_CMD_EXECUTE };
	struct ipc_writer w;
	struct ipc_msg m;

	cs_fake_init(&f);
	cs_fake_follow(&f);
	f.peer_send_fails = true;
	cs_fake_msg(&m, &w, IPC_PROPOSE, 44, fill_cmd, &a);
	CHECK(!cs_forward_propose(&f.c, &m));
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);
	CHECK(f.c.fwd.outs == NULL);
	cs_fake_free(&f);
}

UNIT_TEST(the_leader_answers_a_forwarded_proposal_on_its_connection_once_applied)
{
	struct cs_fake f;
	struct fwd_args a = { "propose", NULL, cmd_execute, IPC_CMD_EXECUTE };
	struct cs_fake_frame *ans;
	struct ipc_writer w;
	struct ipc_msg m;
	uint64_t index;

	cs_fake_init(&f);
	cs_fake_lead(&f);
	cs_fake_msg(&m, &w, IPC_PEER_FORWARD, 77, fill_cmd, &a);
	cs_forward_serve(&f.c, 9, &m);
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);
	CHECK_INT_EQ(f.c.fwd.served.execute, 1);
	CHECK(f.c.apply.head != NULL);
	index = f.c.apply.head->index;
	cs_fake_run(&f);
	CHECK(raft_commit_index(f.c.raft) >= index);
	CHECK_INT_EQ(f.n_sent, 0);	/* answered when storage has applied it */
	apply_result(&f, index, raft_term(f.c.raft), "OK");
	ans = cs_fake_last(&f, IPC_PEER_FORWARD_RESULT);
	CHECK(ans != NULL);
	CHECK_INT_EQ(ans->dest, CS_FAKE_REPLY);
	CHECK_INT_EQ(ans->handle, 9);
	CHECK_INT_EQ(ans->m.request_id, 77);
	CHECK(has_bin(&ans->m, "res", "OK"));
	cs_fake_free(&f);
}

UNIT_TEST(a_forwarded_proposal_whose_entry_was_replaced_answers_leadership_lost)
{
	struct cs_fake f;
	struct fwd_args a = { "propose", NULL, cmd_execute, IPC_CMD_EXECUTE };
	struct ipc_writer w;
	struct ipc_msg m;
	uint64_t index;

	cs_fake_init(&f);
	cs_fake_lead(&f);
	cs_fake_msg(&m, &w, IPC_PEER_FORWARD, 78, fill_cmd, &a);
	cs_forward_serve(&f.c, 9, &m);
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);
	index = f.c.apply.head->index;
	cs_fake_run(&f);
	apply_result(&f, index, raft_term(f.c.raft) + 1, "OTHER");	/* another term */
	CHECK_INT_EQ(ipc_get_error(&cs_fake_last(&f, IPC_PEER_FORWARD_RESULT)->m, NULL, NULL),
	    IPC_EC_LEADERSHIP_LOST);
	cs_fake_free(&f);
}

UNIT_TEST(the_leader_runs_a_forwarded_linearizable_read_on_its_storage_after_the_read_index)
{
	struct cs_fake f;
	struct fwd_args a = { "read", "linearizable", cmd_execute, IPC_CMD_QUERY };
	struct cs_fake_frame *q, *ans;
	struct ipc_writer w;
	struct ipc_msg m;
	uint64_t mi = 0;

	cs_fake_init(&f);
	cs_fake_lead(&f);
	cs_fake_msg(&m, &w, IPC_PEER_FORWARD, 80, fill_cmd, &a);
	cs_forward_serve(&f.c, 3, &m);
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);
	CHECK_INT_EQ(f.c.fwd.served.query, 1);
	cs_fake_run(&f);
	q = cs_fake_last(&f, IPC_QUERY);
	CHECK(q != NULL);
	CHECK_INT_EQ(q->role, PROC_STORAGE);
	CHECK(ipc_get_u64(&q->m, "mi", &mi) == IPC_OK && mi == raft_commit_index(f.c.raft));
	CHECK(has_bin(&q->m, "c", cmd_execute));

	ipc_writer_init(&w);
	ipc_begin(&w, IPC_QUERY_RESULT, q->m.request_id);
	ipc_add_bin(&w, "res", "ROWS", 4);
	ipc_finish(&w);
	CHECK(ipc_decode(w.sb.data + 4, w.sb.size - 4, &m) == IPC_OK);
	cs_apply_dispatch_storage(&f.c, &m);
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);
	ans = cs_fake_last(&f, IPC_PEER_FORWARD_RESULT);
	CHECK(ans != NULL);
	CHECK_INT_EQ(ans->handle, 3);
	CHECK_INT_EQ(ans->m.request_id, 80);
	CHECK(has_bin(&ans->m, "res", "ROWS"));
	CHECK(f.c.fwd.reads == NULL);
	cs_fake_free(&f);
}

UNIT_TEST(a_forwarded_unified_request_that_writes_goes_through_the_leaders_log)
{
	struct cs_fake f;
	struct fwd_args a = { "read", "linearizable", cmd_request, IPC_CMD_REQUEST };
	static const char needs_write[] = "\x81\xa1w\xc3";	/* {"w": true} */
	struct cs_fake_frame *q;
	struct ipc_writer w;
	struct ipc_msg m;
	uint64_t index;

	cs_fake_init(&f);
	cs_fake_lead(&f);
	cs_fake_msg(&m, &w, IPC_PEER_FORWARD, 81, fill_cmd, &a);
	cs_forward_serve(&f.c, 4, &m);
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);
	cs_fake_run(&f);
	q = cs_fake_last(&f, IPC_QUERY);
	CHECK(q != NULL);
	ipc_writer_init(&w);
	ipc_begin(&w, IPC_QUERY_RESULT, q->m.request_id);
	ipc_add_bin(&w, "res", needs_write, 4);
	ipc_finish(&w);
	CHECK(ipc_decode(w.sb.data + 4, w.sb.size - 4, &m) == IPC_OK);
	cs_apply_dispatch_storage(&f.c, &m);
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);
	CHECK(cs_fake_last(&f, IPC_PEER_FORWARD_RESULT) == NULL);
	CHECK(f.c.apply.head != NULL);	/* proposed */
	index = f.c.apply.head->index;
	CHECK(raft_entry_at(f.c.raft, index) != NULL);
	CHECK_INT_EQ(raft_entry_at(f.c.raft, index)->len, 4);
	cs_fake_run(&f);
	apply_result(&f, index, raft_term(f.c.raft), "DONE");
	CHECK(has_bin(&cs_fake_last(&f, IPC_PEER_FORWARD_RESULT)->m, "res", "DONE"));
	cs_fake_free(&f);
}

UNIT_TEST(a_forwarded_read_with_storage_down_answers_store_not_open)
{
	struct cs_fake f;
	struct fwd_args a = { "read", "linearizable", cmd_execute, IPC_CMD_QUERY };
	struct ipc_writer w;
	struct ipc_msg m;

	cs_fake_init(&f);
	cs_fake_lead(&f);
	f.storage_down = true;
	cs_fake_msg(&m, &w, IPC_PEER_FORWARD, 82, fill_cmd, &a);
	cs_forward_serve(&f.c, 5, &m);
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);
	cs_fake_run(&f);
	CHECK_INT_EQ(ipc_get_error(&cs_fake_last(&f, IPC_PEER_FORWARD_RESULT)->m, NULL, NULL),
	    IPC_EC_STORE_NOT_OPEN);
	CHECK(f.c.fwd.reads == NULL);
	cs_fake_free(&f);
}

UNIT_TEST(a_follower_asked_to_serve_a_forward_answers_not_leader)
{
	struct cs_fake f;
	struct fwd_args a = { "propose", NULL, cmd_execute, IPC_CMD_EXECUTE };
	struct ipc_writer w;
	struct ipc_msg m;

	cs_fake_init(&f);
	cs_fake_follow(&f);
	cs_fake_msg(&m, &w, IPC_PEER_FORWARD, 83, fill_cmd, &a);
	cs_forward_serve_now(&f.c, 6, &m);
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);
	CHECK_INT_EQ(ipc_get_error(&cs_fake_last(&f, IPC_PEER_FORWARD_RESULT)->m, NULL, NULL),
	    IPC_EC_NOT_LEADER);
	CHECK(f.c.apply.head == NULL);
	cs_fake_free(&f);
}

UNIT_TEST(an_unknown_forwarded_operation_is_refused)
{
	struct cs_fake f;
	struct fwd_args a = { "format-disk", NULL, cmd_execute, 0 };
	struct ipc_writer w;
	struct ipc_msg m;

	cs_fake_init(&f);
	cs_fake_lead(&f);
	cs_fake_msg(&m, &w, IPC_PEER_FORWARD, 84, fill_cmd, &a);
	cs_forward_serve_now(&f.c, 6, &m);
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);
	CHECK_INT_EQ(ipc_get_error(&cs_fake_last(&f, IPC_PEER_FORWARD_RESULT)->m, NULL, NULL),
	    IPC_EC_INVALID);
	cs_fake_free(&f);
}

UNIT_TEST(forwarded_requests_that_never_get_an_answer_are_dropped_after_their_timeout)
{
	struct cs_fake f;
	struct fwd_args a = { NULL, NULL, cmd_execute, IPC_CMD_EXECUTE };
	struct ipc_writer w;
	struct ipc_msg m;

	cs_fake_init(&f);
	cs_fake_follow(&f);
	cs_fake_msg(&m, &w, IPC_PROPOSE, 45, fill_cmd, &a);
	CHECK(cs_forward_propose(&f.c, &m));
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);
	cs_forward_expire(&f.c, f.now + CS_FWD_TIMEOUT_MS);
	CHECK(f.c.fwd.outs != NULL);
	cs_forward_expire(&f.c, f.now + CS_FWD_TIMEOUT_MS + 1);
	CHECK(f.c.fwd.outs == NULL);
	cs_fake_free(&f);
}

UNIT_MAIN()
