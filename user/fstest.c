/*
 * fstest DIR - file-system calls on a writable file system, a table of
 * small named cases run in DIR (made if missing).  Prints "ok NAME" or
 * "FAIL NAME: why" per case, then "fstest: N passed, M failed".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include "ulib.h"

static const char *why;
#define CHECK(c, msg) do { if (!(c)) { why = msg; return -1; } } while (0)
#define CHECK_ERR(call, e, msg) do { errno = 0; CHECK((call) < 0 && errno == (e), msg); } while (0)

static int write_file(const char *p, const void *d, size_t n)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	int r = write(fd, d, n) == (ssize_t)n ? 0 : -1;
	return close(fd) < 0 ? -1 : r;
}

static ssize_t read_file(const char *p, void *d, size_t n)
{
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, d, n);
	close(fd);
	return r;
}

static int t_create_write_read(void)
{
	char buf[64];
	int fd = open("a", O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0, "create");
	CHECK(write(fd, "hello, disk", 11) == 11, "write");
	CHECK(close(fd) == 0, "close");
	CHECK_ERR(open("a", O_WRONLY | O_CREAT | O_EXCL, 0600), EEXIST, "O_EXCL on an existing file");
	CHECK(read_file("a", buf, sizeof buf) == 11 && !memcmp(buf, "hello, disk", 11), "read back");
	struct stat st;
	CHECK(stat("a", &st) == 0 && st.st_size == 11 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600, "stat");
	return 0;
}

static int t_append_trunc_seek(void)
{
	char buf[64];
	CHECK(write_file("b", "12345", 5) == 0, "write");
	int fd = open("b", O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && lseek(fd, 0, SEEK_SET) == 0 && write(fd, "67", 2) == 2, "append");
	CHECK(lseek(fd, 0, SEEK_END) == 7, "SEEK_END");
	CHECK(ftruncate(fd, 3) == 0, "ftruncate shrink");
	CHECK(ftruncate(fd, 6) == 0, "ftruncate grow");
	close(fd);
	CHECK(read_file("b", buf, sizeof buf) == 6 && !memcmp(buf, "123\0\0\0", 6), "truncated content");
	CHECK(truncate("b", 1) == 0 && read_file("b", buf, sizeof buf) == 1, "truncate");
	fd = open("b", O_RDWR | O_TRUNC);
	CHECK(fd >= 0 && lseek(fd, 0, SEEK_END) == 0, "O_TRUNC");
	close(fd);
	return 0;
}

static int t_pread_pwrite_vec(void)
{
	char buf[32] = { 0 };
	int fd = open("c", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0, "open");
	CHECK(pwrite(fd, "world", 5, 100) == 5 && pwrite(fd, "hello", 5, 0) == 5, "pwrite");
	CHECK(lseek(fd, 0, SEEK_CUR) == 0, "pwrite moved the position");
	CHECK(pread(fd, buf, 5, 100) == 5 && !memcmp(buf, "world", 5), "pread");
	CHECK(pread(fd, buf, 5, 50) == 5 && !memcmp(buf, "\0\0\0\0\0", 5), "a hole reads as zeros");
	struct iovec iov[2] = { { "ab", 2 }, { "cd", 2 } };
	CHECK(pwritev(fd, iov, 2, 10) == 4, "pwritev");
	char x[2], y[2];
	struct iovec rv[2] = { { x, 2 }, { y, 2 } };
	CHECK(preadv(fd, rv, 2, 10) == 4 && !memcmp(x, "ab", 2) && !memcmp(y, "cd", 2), "preadv");
	CHECK(lseek(fd, 10, SEEK_SET) == 10 && readv(fd, rv, 2) == 4 && !memcmp(y, "cd", 2), "readv");
	close(fd);
	return 0;
}

static int t_big_file(void)
{
	/* 6 MiB: past the direct and single-indirect blocks on any block size */
	static uint32_t chunk[16384];
	int fd = open("big", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0, "open");
	for (int c = 0; c < 96; c++) {
		for (int i = 0; i < 16384; i++)
			chunk[i] = (uint32_t)(c * 16384 + i);
		CHECK(write(fd, chunk, sizeof chunk) == sizeof chunk, "write");
	}
	CHECK(lseek(fd, 0, SEEK_SET) == 0, "seek");
	for (int c = 0; c < 96; c++) {
		CHECK(read(fd, chunk, sizeof chunk) == sizeof chunk, "read");
		for (int i = 0; i < 16384; i += 97)
			CHECK(chunk[i] == (uint32_t)(c * 16384 + i), "content differs");
	}
	struct stat st;
	CHECK(fstat(fd, &st) == 0 && st.st_size == 96 * 65536 && st.st_blocks >= 96 * 128, "size and blocks");
	close(fd);
	CHECK(unlink("big") == 0, "unlink");
	return 0;
}

static int t_sparse(void)
{
	char buf[8];
	int fd = open("sparse", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && pwrite(fd, "end", 3, 10 << 20) == 3, "write far");
	struct stat st;
	CHECK(fstat(fd, &st) == 0 && st.st_size == (10 << 20) + 3 && st.st_blocks < 64, "sparse size");
	CHECK(pread(fd, buf, 8, 5 << 20) == 8 && !memcmp(buf, "\0\0\0\0\0\0\0\0", 8), "hole");
	close(fd);
	CHECK(unlink("sparse") == 0, "unlink");
	return 0;
}

static int t_dirs(void)
{
	struct stat st;
	CHECK(mkdir("d", 0755) == 0, "mkdir");
	CHECK_ERR(mkdir("d", 0755), EEXIST, "mkdir twice");
	CHECK(stat("d", &st) == 0 && S_ISDIR(st.st_mode) && st.st_nlink == 2, "stat dir");
	CHECK(mkdir("d/e", 0755) == 0 && stat("d", &st) == 0 && st.st_nlink == 3, "subdir link count");
	CHECK(write_file("d/e/f", "x", 1) == 0, "file in subdir");
	CHECK_ERR(rmdir("d/e"), ENOTEMPTY, "rmdir non-empty");
	CHECK_ERR(unlink("d/e"), EISDIR, "unlink a directory");
	CHECK_ERR(open("d/e/f/g", O_RDONLY), ENOTDIR, "a file as a directory");
	CHECK_ERR(open("d/e/f", O_RDONLY | O_DIRECTORY), ENOTDIR, "O_DIRECTORY on a file");
	CHECK_ERR(open("d/e", O_WRONLY), EISDIR, "writing a directory");
	CHECK(unlink("d/e/f") == 0 && rmdir("d/e") == 0, "remove");
	CHECK_ERR(stat("d/e", &st), ENOENT, "gone");
	CHECK(stat("d", &st) == 0 && st.st_nlink == 2, "link count back");
	CHECK(rmdir("d") == 0, "rmdir");
	return 0;
}

static int t_rename(void)
{
	char buf[8];
	struct stat st, st2;
	CHECK(write_file("r1", "one", 3) == 0 && write_file("r2", "two", 3) == 0, "write");
	CHECK(stat("r1", &st) == 0, "stat");
	CHECK(rename("r1", "r2") == 0, "rename over an existing file");
	CHECK(read_file("r2", buf, 8) == 3 && !memcmp(buf, "one", 3), "content after rename");
	CHECK(stat("r2", &st2) == 0 && st2.st_ino == st.st_ino, "same inode");
	CHECK_ERR(stat("r1", &st), ENOENT, "old name gone");
	CHECK(mkdir("rd", 0755) == 0 && mkdir("rd2", 0755) == 0, "mkdir");
	CHECK(rename("r2", "rd/r3") == 0 && read_file("rd/r3", buf, 8) == 3, "into a directory");
	CHECK(rename("rd", "rd2/sub") == 0, "a directory into another");
	CHECK(stat("rd2", &st) == 0 && st.st_nlink == 3, "new parent links");
	CHECK(stat("rd2/sub/..", &st2) == 0 && st2.st_ino == st.st_ino, "\"..\" follows");
	CHECK_ERR(rename("rd2", "rd2/sub/x"), EINVAL, "into itself");
	CHECK(write_file("rn", "n", 1) == 0, "write");
	CHECK_ERR(syscall(SYS_renameat2, AT_FDCWD, "rn", AT_FDCWD, "rd2/sub/r3", 1), EEXIST, "RENAME_NOREPLACE");
	CHECK(unlink("rn") == 0 && unlink("rd2/sub/r3") == 0 && rmdir("rd2/sub") == 0 && rmdir("rd2") == 0, "clean");
	return 0;
}

static int t_links(void)
{
	char buf[64];
	struct stat a, b;
	CHECK(write_file("l1", "linked", 6) == 0, "write");
	CHECK(link("l1", "l2") == 0, "link");
	CHECK(stat("l1", &a) == 0 && stat("l2", &b) == 0 && a.st_ino == b.st_ino && a.st_nlink == 2, "one inode, two links");
	CHECK(unlink("l1") == 0 && read_file("l2", buf, 64) == 6, "the other name lives");
	CHECK(symlink("l2", "s1") == 0, "symlink");
	CHECK(lstat("s1", &a) == 0 && S_ISLNK(a.st_mode), "lstat");
	CHECK(readlink("s1", buf, sizeof buf) == 2 && !memcmp(buf, "l2", 2), "readlink");
	CHECK(read_file("s1", buf, 64) == 6 && !memcmp(buf, "linked", 6), "open through it");
	static char longt[200];
	memset(longt, 'x', 150);
	CHECK(symlink(longt, "s2") == 0 && readlink("s2", buf, 64) == 64, "a long symlink");
	CHECK(symlink("nowhere", "s3") == 0, "dangling");
	CHECK_ERR(open("s3", O_RDONLY), ENOENT, "dangling open");
	CHECK(symlink("s4", "s4") == 0, "a loop");
	CHECK_ERR(open("s4", O_RDONLY), ELOOP, "loop open");
	CHECK_ERR(open("s1", O_RDONLY | O_NOFOLLOW), ELOOP, "O_NOFOLLOW");
	CHECK(unlink("s1") == 0 && unlink("s2") == 0 && unlink("s3") == 0 && unlink("s4") == 0 && unlink("l2") == 0, "clean");
	return 0;
}

static int t_getdents_inodes(void)
{
	char name[300];
	CHECK(mkdir("many", 0755) == 0, "mkdir");
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof name, "many/file%03d", i);
		CHECK(write_file(name, name, 5) == 0, "create");
	}
	DIR *d = opendir("many");
	CHECK(d, "opendir");
	int n = 0, bad = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st;
		snprintf(name, sizeof name, "many/%s", e->d_name);
		if (stat(name, &st) < 0 || st.st_ino != e->d_ino)
			bad++;
		n++;
	}
	closedir(d);
	CHECK(n == 102, "entries listed");
	CHECK(!bad, "inode numbers of getdents and stat differ");
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof name, "many/file%03d", i);
		CHECK(unlink(name) == 0, "unlink");
	}
	CHECK(rmdir("many") == 0, "rmdir");
	return 0;
}

static int t_attrs(void)
{
	struct stat st;
	CHECK(write_file("m", "m", 1) == 0, "write");
	CHECK(chmod("m", 0751) == 0 && stat("m", &st) == 0 && (st.st_mode & 07777) == 0751, "chmod");
	int fd = open("m", O_RDONLY);
	CHECK(fd >= 0 && fchmod(fd, 0600) == 0 && fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0600, "fchmod");
	close(fd);
	struct timespec ts[2] = { { 1000000, 0 }, { 2000000, 0 } };
	CHECK(utimensat(AT_FDCWD, "m", ts, 0) == 0 && stat("m", &st) == 0 && st.st_mtime == 2000000, "utimensat");
	CHECK(access("m", F_OK) == 0, "access");
	CHECK_ERR(access("nothere", F_OK), ENOENT, "access missing");
	CHECK(unlink("m") == 0, "unlink");
	return 0;
}

static int t_statfs(void)
{
	struct statfs a, b;
	CHECK(statfs(".", &a) == 0 && a.f_type == 0xEF53, "statfs type");
	static char mb[1 << 20];
	CHECK(write_file("space", mb, sizeof mb) == 0, "write 1 MiB");
	CHECK(statfs(".", &b) == 0 && (a.f_bfree - b.f_bfree) * b.f_bsize >= sizeof mb, "free blocks went down");
	CHECK(unlink("space") == 0 && statfs(".", &b) == 0 && b.f_bfree == a.f_bfree, "and came back");
	return 0;
}

static int t_dirfd_cwd(void)
{
	char buf[256];
	CHECK(mkdir("w", 0755) == 0, "mkdir");
	int d = open("w", O_RDONLY | O_DIRECTORY);
	CHECK(d >= 0, "open dir");
	int fd = openat(d, "inner", O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0 && write(fd, "in", 2) == 2, "openat relative");
	close(fd);
	CHECK(getcwd(buf, sizeof buf), "getcwd");
	char here[256];
	snprintf(here, sizeof here, "%s", buf);
	CHECK(chdir("w") == 0 && read_file("inner", buf, 8) == 2, "chdir");
	CHECK(getcwd(buf, sizeof buf) && strlen(buf) == strlen(here) + 2, "getcwd after chdir");
	CHECK(chdir("..") == 0 && fchdir(d) == 0 && access("inner", F_OK) == 0, "fchdir");
	CHECK(chdir(here) == 0, "back");
	close(d);
	CHECK(unlink("w/inner") == 0 && rmdir("w") == 0, "clean");
	return 0;
}

static int t_unlinked_while_open(void)
{
	char buf[16];
	int fd = open("u", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, "still", 5) == 5, "write");
	CHECK(unlink("u") == 0, "unlink");
	CHECK(access("u", F_OK) < 0, "name gone");
	CHECK(pread(fd, buf, 5, 0) == 5 && !memcmp(buf, "still", 5), "data still readable");
	CHECK(fsync(fd) == 0, "fsync");
	close(fd);
	return 0;
}

static const struct { const char *name; int (*fn)(void); } cases[] = {
	{ "create_write_read", t_create_write_read },
	{ "append_trunc_seek", t_append_trunc_seek },
	{ "pread_pwrite_vec", t_pread_pwrite_vec },
	{ "big_file_6mib", t_big_file },
	{ "sparse", t_sparse },
	{ "dirs", t_dirs },
	{ "rename", t_rename },
	{ "links_symlinks", t_links },
	{ "getdents_inodes", t_getdents_inodes },
	{ "attrs", t_attrs },
	{ "statfs", t_statfs },
	{ "dirfd_cwd", t_dirfd_cwd },
	{ "unlinked_while_open", t_unlinked_while_open },
};

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp/fstest";
	int pass = 0, fail = 0;
	mkdir(dir, 0755);
	if (chdir(dir) < 0) {
		u_warn("fstest", dir, errno);
		return 1;
	}
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (argc > 2 && strcmp(argv[2], cases[i].name))
			continue;
		why = "?";
		errno = 0;
		if (cases[i].fn() == 0) {
			printf("ok %s\n", cases[i].name);
			pass++;
		} else {
			printf("FAIL %s: %s (errno %d)\n", cases[i].name, why, errno);
			fail++;
		}
	}
	printf("fstest: %d passed, %d failed\n", pass, fail);
	return fail != 0;
}
