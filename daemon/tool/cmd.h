/*
 * cmd: the `cordon` tool's subcommands.  Each takes the arguments after
 * its name (argv[0] is the subcommand) and returns the exit code: 0 done,
 * 1 a failure the user must act on, 2 a usage error.
 */
#ifndef CORDON_CMD_H
#define CORDON_CMD_H

int cmd_audit(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_ctl(int argc, char **argv);
int cmd_explain(int argc, char **argv);

/*
 * The one place the tool gives up when memory runs out (diag.h, the
 * project's out-of-memory policy): prints "cordon: out of memory while
 * DOING" to stderr and exits 1.  Only the subcommands call it, never
 * library code.
 */
void cmd_oom(const char *doing) __attribute__((noreturn));

#endif
