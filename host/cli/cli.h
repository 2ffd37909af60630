/* The glf command line: one function per subcommand, plus the shared bits
 * every subcommand uses (error printing, device opening). Argument parsing
 * only: the work itself lives in libglf. */
#ifndef GLF_CLI_H
#define GLF_CLI_H

#include "glf/runtime.h"

/* Each returns the process exit status. argv[0] is the subcommand name. */
int glf_cmd_devices(int argc, char **argv);
int glf_cmd_check(int argc, char **argv);
int glf_cmd_tune(int argc, char **argv);

/* Print "glf <cmd>: <status>: <last error>" to stderr and return 1. */
int cli_error(const char *cmd, glf_status s);

/* Open a context for --device SPEC (NULL: GLF_DEVICE / default) and print
 * the chosen device on one line to stderr. NULL on failure (printed). */
glf_ctx *cli_open_device(const char *cmd, const char *spec);

/* Match "--name value" or "--name=value" at argv[*i]; on a match store the
 * value, advance *i past it and return 1. Missing value: prints, returns -1. */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **value);
/* Same for an integer/float option, with range checking. */
int cli_opt_long(int argc, char **argv, int *i, const char *name, long lo, long hi, long *value);
int cli_opt_double(int argc, char **argv, int *i, const char *name, double *value);

#endif
