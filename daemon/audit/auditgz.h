/*
 * auditgz: audit log files that may be gzip'd (logrotate's compressed
 * rotations), for `cordon audit`.  Strict where zlib's gz* functions are
 * lenient: members may follow one another (cat a.gz b.gz is one gzip
 * file), but any other byte after the last member is an error, since a
 * log under audit may hold nothing the daemon did not write.  In the
 * tool's library: the daemon reads only its live file and does not link
 * zlib.
 */
#ifndef CORDON_AUDITGZ_H
#define CORDON_AUDITGZ_H

struct auditread;

/* As auditread_open(), but a file that starts with the gzip magic (any
 * name) is inflated. */
struct auditread *auditread_open_any(const char *path, const char **why);

#endif
