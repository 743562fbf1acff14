/*
 * cordon ctl [-s SOCKET | -c CONFIG] reload|stats|flush [NAME]: talks to
 * a running cordond through its control socket.  Prints the reply; exits
 * 0 when it starts with "ok", 1 with the reason otherwise.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tool/cmd.h"
#include "base/config.h"
#include "base/diag.h"

#define DEFAULT_SOCKET "/run/cordon/control.sock"

static void
usage(void)
{
	fprintf(stderr, "usage: cordon ctl [-s SOCKET | -c CONFIG] "
	    "reload|stats|flush [NAME]\n");
}

static char *
socket_of(const char *config_path)
{
	struct diag *d = diag_new();
	struct config *cfg = config_load(config_path, "/etc/resolv.conf", d);
	char *path = NULL;

	if (cfg == NULL)
		diag_print(d, stderr);
	else if (cfg->control_socket[0] == '\0')
		fprintf(stderr, "cordon: %s: [control] socket is not set\n",
		    config_path);
	else
		path = strdup(cfg->control_socket);
	config_free(cfg);
	diag_free(d);
	return path;
}

static int
talk(const char *path, const char *command)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char buf[4096];
	size_t got = 0;
	ssize_t n;
	bool ok = false, first = true;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "cordon: %s: path too long\n", path);
		return 1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1) {
		fprintf(stderr, "cordon: %s: %s (is cordond running?)\n", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return 1;
	}
	if (write(fd, command, strlen(command)) != (ssize_t)strlen(command)) {
		fprintf(stderr, "cordon: %s: %s\n", path, strerror(errno));
		close(fd);
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (first) {
			ok = n >= 2 && memcmp(buf, "ok", 2) == 0;
			first = false;
		}
		fwrite(buf, 1, (size_t)n, ok ? stdout : stderr);
		got += (size_t)n;
	}
	close(fd);
	if (got == 0)
		fprintf(stderr, "cordon: %s: no reply\n", path);
	return ok ? 0 : 1;
}

int
cmd_ctl(int argc, char **argv)
{
	const char *sock = NULL, *config = NULL;
	char command[600], *owned = NULL;
	int ch, rc;

	optind = 1;
	while ((ch = getopt(argc, argv, "s:c:")) != -1) {
		switch (ch) {
		case 's':
			sock = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (optind >= argc || argc - optind > 2 ||
	    (strcmp(argv[optind], "reload") != 0 &&
	    strcmp(argv[optind], "stats") != 0 &&
	    strcmp(argv[optind], "flush") != 0) ||
	    (argc - optind == 2 && strcmp(argv[optind], "flush") != 0)) {
		usage();
		return 2;
	}
	snprintf(command, sizeof(command), "%s%s%s\n", argv[optind],
	    argc - optind == 2 ? " " : "", argc - optind == 2 ?
	    argv[optind + 1] : "");
	if (sock == NULL && config != NULL) {
		if ((owned = socket_of(config)) == NULL)
			return 1;
		sock = owned;
	}
	rc = talk(sock ? sock : DEFAULT_SOCKET, command);
	free(owned);
	return rc;
}
