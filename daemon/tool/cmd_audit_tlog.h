/*
 * cmd_audit_tlog: the transparency-log subcommands of `cordon audit`
 * (keygen, checkpoint, prove) and the checkpoint checks of verify.
 */
#ifndef CORDON_CMD_AUDIT_TLOG_H
#define CORDON_CMD_AUDIT_TLOG_H

#include <stdbool.h>

int audit_keygen(int argc, char **argv);
int audit_checkpoint(int argc, char **argv);
int audit_prove(int argc, char **argv);

/*
 * Checks the log files against the verifier key (text or a file holding
 * it) and every checkpoint in cpfiles: each signature, that the log
 * holds at least each checkpoint's size, that the tree of its first
 * lines has the checkpoint's root, and (unless partial) that it starts
 * at seq 1.  Prints what is wrong; returns 0 or 1.
 */
int tlog_verify(char **files, int nfiles, const char *key, char **cpfiles,
    int ncpfiles, bool partial);

#endif
