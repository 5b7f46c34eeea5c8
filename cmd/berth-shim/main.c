/*
 * berth-shim is berth's per-container shim (`berth-shim shim …`, see
 * shim.c) and, bind-mounted into a container at /.berth/init and run
 * under that name, the container's init (init.c).
 *
 * It is not installed on its own: `make build` compiles it (statically:
 * it runs inside containers that have no libc of the host's) and embeds
 * it into berth (internal/shimbin), which writes it under its state root
 * on first use and starts it from there.
 */
#define _GNU_SOURCE
#include "shim.h"

#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *name = argc > 0 ? argv[0] : "";
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	if (!strcmp(base, "init"))
		return init_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "shim"))
		return shim_main(argc - 2, argv + 2);
	static const char usage[] =
	    "berth-shim is started by berth: berth-shim shim --root DIR --run-dir DIR --runtime PATH --id ID\n";
	(void)!write(2, usage, sizeof usage - 1);
	return 2;
}
