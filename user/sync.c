/* sync - write every dirty block to its disk. */
#include <unistd.h>
int main(void) { sync(); return 0; }
