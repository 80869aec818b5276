/*
 * ls [-l] [-a] [PATH...] - list directories (default: the current one).
 *
 * Reads directories with the raw getdents64 system call and prints the
 * names sorted, one per line; names starting with '.' only with -a.
 * -l prints the type and permissions, links, size and name
 * ("drwxr-xr-x  2      1024 bin"), and a symlink's target.
 * A PATH that is not a directory is listed as itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ulib.h"

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int opt_long, opt_all;

static void print_entry(int dirfd, const char *name, const char *shown)
{
	struct stat st;
	char mode[11];

	if (!opt_long) {
		printf("%s\n", shown);
		return;
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		u_warn("ls", shown, errno);
		return;
	}
	mode[0] = S_ISDIR(st.st_mode)    ? 'd'
		  : S_ISCHR(st.st_mode)  ? 'c'
		  : S_ISBLK(st.st_mode)  ? 'b'
		  : S_ISFIFO(st.st_mode) ? 'p'
		  : S_ISLNK(st.st_mode)  ? 'l'
		  : S_ISSOCK(st.st_mode) ? 's'
					 : '-';
	for (int i = 0; i < 9; i++)
		mode[1 + i] = (st.st_mode & (0400 >> i)) ? "rwxrwxrwx"[i] : '-';
	mode[10] = '\0';
	printf("%s %2lu %9lld %s", mode, (unsigned long)st.st_nlink, (long long)st.st_size, shown);
	if (S_ISLNK(st.st_mode)) {
		char target[256];
		ssize_t n = readlinkat(dirfd, name, target, sizeof target - 1);
		if (n >= 0) {
			target[n] = '\0';
			printf(" -> %s", target);
		}
	}
	printf("\n");
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list(const char *path, int header)
{
	static char buf[8192];
	char **names = NULL;
	size_t n = 0, cap = 0;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOTDIR) {
			print_entry(AT_FDCWD, path, path);
			return 0;
		}
		u_warn("ls", path, errno);
		return 1;
	}
	for (;;) {
		long len = syscall(SYS_getdents64, fd, buf, sizeof buf);
		if (len == 0)
			break;
		if (len < 0) {
			u_warn("ls", path, errno);
			close(fd);
			return 1;
		}
		for (long off = 0; off < len;) {
			struct linux_dirent64 *d = (void *)(buf + off);
			off += d->d_reclen;
			if (d->d_name[0] == '.' && !opt_all)
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				names = realloc(names, cap * sizeof *names);
				if (!names)
					u_die("ls", "realloc", ENOMEM);
			}
			if (!(names[n++] = strdup(d->d_name)))
				u_die("ls", "strdup", ENOMEM);
		}
	}
	qsort(names, n, sizeof *names, cmp_name);
	if (header)
		printf("%s:\n", path);
	for (size_t i = 0; i < n; i++) {
		print_entry(fd, names[i], names[i]);
		free(names[i]);
	}
	free(names);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	int i = 1, status = 0;

	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		for (const char *o = argv[i] + 1; *o; o++) {
			if (*o == 'l')
				opt_long = 1;
			else if (*o == 'a')
				opt_all = 1;
			else {
				u_errf("ls", "unknown option -%c (usage: ls [-la] [path...])", *o);
				return 2;
			}
		}
	}
	if (i == argc)
		return list(".", 0);
	for (int j = i; j < argc; j++) {
		if (j > i && argc - i > 1)
			printf("\n");
		status |= list(argv[j], argc - i > 1);
	}
	return status;
}
