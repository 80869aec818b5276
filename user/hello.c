/*
 * hello - the first test program: prints a greeting and its process ids.
 *
 * Output:
 *   hello, world
 *   hello: pid P ppid Q
 *   hello: ok
 */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	printf("hello, world\n");
	printf("hello: pid %d ppid %d\n", (int)getpid(), (int)getppid());
	printf("hello: ok\n");
	return 0;
}
