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

#endif
