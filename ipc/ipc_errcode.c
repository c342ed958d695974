/* Error codes between roles and nodes (see ipc_errcode.h). */
#include <stdint.h>

#include "ipc_errcode.h"

const char *
ipc_errcode_text(enum ipc_errcode code)
{
	switch (code) {
#define IPC_EC_CASE_(name, value, text) case name: return text;
	IPC_ERRCODES(IPC_EC_CASE_)
#undef IPC_EC_CASE_
	}
	return "error";
}

void
ipc_add_error(struct ipc_writer *w, enum ipc_errcode code, const char *text)
{
	ipc_add_str(w, "e", text != NULL ? text : ipc_errcode_text(code));
	ipc_add_u64(w, "ec", (uint64_t)code);
}

enum ipc_errcode
ipc_get_error(const struct ipc_msg *m, const char **text, size_t *len)
{
	const char *e;
	size_t n;
	uint64_t code = IPC_EC_OTHER;

	if (ipc_get_str(m, "e", &e, &n) != IPC_OK)
		return IPC_EC_NONE;
	if (text != NULL) {
		*text = e;
		*len = n;
	}
	if (ipc_get_u64(m, "ec", &code) != IPC_OK)
		return IPC_EC_OTHER;
	switch (code) {
#define IPC_EC_KNOWN_(name, value, t) case value:
	IPC_ERRCODES(IPC_EC_KNOWN_)
#undef IPC_EC_KNOWN_
		return code == IPC_EC_NONE ? IPC_EC_OTHER : (enum ipc_errcode)code;
	}
	return IPC_EC_OTHER;
}
