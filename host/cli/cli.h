/* The glf command line: one function per subcommand, plus the shared bits
 * every subcommand uses (error printing, device opening). Argument parsing
 * only: the work itself lives in libglf. */
#ifndef GLF_CLI_H
#define GLF_CLI_H

#include "glf/runtime.h"

/* Each returns the process exit status. argv[0] is the subcommand name. */
int glf_cmd_devices(int argc, char **argv);
int glf_cmd_check(int argc, char **argv);
int glf_cmd_pack(int argc, char **argv);
int glf_cmd_data(int argc, char **argv);
int glf_cmd_train(int argc, char **argv);
int glf_cmd_sample(int argc, char **argv);
int glf_cmd_reconstruct(int argc, char **argv);
int glf_cmd_interpolate(int argc, char **argv);
int glf_cmd_tune(int argc, char **argv);
int glf_cmd_bench(int argc, char **argv);
int glf_cmd_classifier(int argc, char **argv);
int glf_cmd_eval(int argc, char **argv);

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


/* Parse the data-source options at argv[*i] into src: "--dataset NAME [DIR]"
 * (DIR taken when the next word does not start with '-'), "--data FILE"
 * (an archive), "--max-memory BYTES[K|M|G]", "--crop N", "--size N".
 * Returns 1 if it consumed an option, 0 if argv[*i] is not one, -1 on error
 * (printed). Zero src once before the loop. */
struct glf_data_source;
int cli_data_source(int argc, char **argv, int *i, struct glf_data_source *src);
/* Usage text of those options, for --help. */
extern const char cli_data_source_help[];

#endif
