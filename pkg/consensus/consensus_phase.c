/*
 * The node's phase (see consensus_base.h): one enum and one table of legal moves
 * instead of a handful of booleans that could contradict each other.
 */
#include "common/log.h"
#include "consensus_internal.h"

static const char *phase_names[CS_PHASE_MAX] = {
#define CS_PHASE_NAME_(n) #n,
	CS_PHASES(CS_PHASE_NAME_)
#undef CS_PHASE_NAME_
};

#define M_(p) (1u << CS_PHASE_##p)
/* Where each phase may go next. Joining ends in running, or the stop starts first. */
static const unsigned phase_moves[CS_PHASE_MAX] = {
	[CS_PHASE_JOINING] = M_(RUNNING) | M_(HANDING_OVER) | M_(LEAVING) | M_(STOPPED),
	[CS_PHASE_RUNNING] = M_(HANDING_OVER) | M_(LEAVING) | M_(STOPPED),
	[CS_PHASE_HANDING_OVER] = M_(STOPPED),
	[CS_PHASE_LEAVING] = M_(STOPPED),
	[CS_PHASE_STOPPED] = 0,
};
#undef M_

const char *
cs_phase_name(enum cs_phase p)
{
	return (unsigned)p < CS_PHASE_MAX ? phase_names[p] : "?";
}

bool
cs_phase_move_ok(enum cs_phase from, enum cs_phase to)
{
	return (unsigned)from < CS_PHASE_MAX && (unsigned)to < CS_PHASE_MAX &&
	    (phase_moves[from] & (1u << to)) != 0;
}

void
cs_set_phase(struct consensus *c, enum cs_phase to)
{
	if (!cs_phase_move_ok(c->phase, to))
		fatalx("%s: illegal phase move %s -> %s", __func__, cs_phase_name(c->phase),
		    cs_phase_name(to));
	log_debug("phase %s -> %s", cs_phase_name(c->phase), cs_phase_name(to));
	c->phase = to;
}

bool
cs_stopping(const struct consensus *c)
{
	return c->phase == CS_PHASE_HANDING_OVER || c->phase == CS_PHASE_LEAVING ||
	    c->phase == CS_PHASE_STOPPED;
}
