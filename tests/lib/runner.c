/*
 * main() for every test binary: runs jt_suite(). Check itself honours
 * CK_RUN_SUITE, CK_RUN_CASE, CK_FORK, CK_TAP_LOG_FILE_NAME and
 * CK_DEFAULT_TIMEOUT, so a single case can be run from the shell.
 */
#include <stdlib.h>

#include "jt.h"

int main(void)
{
	SRunner *sr = srunner_create(jt_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
