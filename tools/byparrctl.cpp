// Placeholder replaced by the full CLI.
#include <cstdio>
int main() { std::puts("byparrctl"); return 0; }
