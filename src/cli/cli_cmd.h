/* cli_cmd: what the nearft subcommands share: the message-and-exit-code helpers, option matching,
 * JSON output, and the entry points of the commands that talk to a NEAR RPC node (keys_cmd.c,
 * doctor_cmd.c). The CLI's main thread only. Usage errors exit 2, other failures 1, each with one
 * line on stderr naming the bad argument or the problem. */
#ifndef NF_CLI_CMD_H
#define NF_CLI_CMD_H

#include "jw.h"
#include "nf_args.h"

#define CLI_EXIT_FAIL  1
#define CLI_EXIT_USAGE 2

/* cli_die_usage / cli_die_fail: print "nearft: <message>" on stderr, return 2 / 1. */
__attribute__((format(printf, 1, 2))) int cli_die_usage(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) int cli_die_fail(const char *fmt, ...);

/* cli_opt_match: the nf_args scanner for one flag name (with its "--"): when argv[*i] is "--name"
 * or "--name=value", sets *value (the next argument or the text after '='), advances *i past what
 * it used and returns 1; returns -1 when the value is missing; 0 when argv[*i] is another option.
 * "--help" and "-h" are nf_arg_is_help. */
int cli_opt_match(int argc, char **argv, int *i, const char *name, const char **value);

/* cli_print_json: finishes w (takes its buffer), writes the text and a newline to stdout.
 * Returns 0 or CLI_EXIT_FAIL (message printed). */
int cli_print_json(struct jw *w);

/* nearft keys add | list | remove (argv after the subcommand name). Return the exit code. */
int cli_keys_add(int argc, char **argv);
int cli_keys_list(int argc, char **argv);
int cli_keys_remove(int argc, char **argv);

/* nearft doctor: argv as nearftd takes it (argv[0] is the command name). Returns the exit code. */
int cli_doctor(int argc, char **argv);

#endif
