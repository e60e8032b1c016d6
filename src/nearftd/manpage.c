/* manpage: nearftd(8) in man(7) roff, printed by `nearftd --man`. The build writes the installed
 * page with it, so OPTIONS is the settings table itself (cfg_print_man) and cannot drift from
 * --help. Main thread, before anything else starts. */
#include "manpage.h"

#include "cfg.h"

#ifndef NF_VERSION
#define NF_VERSION "unknown"
#endif

void manpage_nearftd(FILE *f)
{
    fputs(".TH NEARFTD 8 \"\" \"nearft " NF_VERSION "\" \"nearft manual\"\n"
          ".SH NAME\n"
          "nearftd \\- lands NEP\\-141 ft_transfer requests on NEAR exactly once\n"
          ".SH SYNOPSIS\n"
          ".B nearftd\n"
          "[\\fB\\-\\-config\\fR \\fIFILE\\fR] [\\fB\\-\\-\\fIname value\\fR ...] "
          "[\\fB\\-\\-print\\-config\\fR] [\\fB\\-\\-help\\fR] [\\fB\\-\\-man\\fR]\n"
          ".SH DESCRIPTION\n"
          ".B nearftd\n"
          "accepts token transfers over HTTP, writes each to a durable log before it answers, "
          "batches them into transactions of up to 100 ft_transfer actions, signs them with a "
          "pool of access keys of one signer account and submits them to NEAR JSON\\-RPC "
          "endpoints. Every accepted transfer lands on chain exactly once, across crashes and "
          "restarts.\n"
          ".PP\n"
          "At start it loads the signer's keys from the credentials directory, checks on chain "
          "that each is a full\\-access key, checks the signer's NEAR and token balances, replays "
          "its log (transfers accepted before a stop resume where they were) and then listens.\n"
          ".SH OPTIONS\n"
          "Every setting is a flag, an environment variable and a config\\-file key. "
          "Precedence: defaults < config file < environment < flags. Flags take "
          "\\fB\\-\\-name value\\fR or \\fB\\-\\-name=value\\fR; booleans also "
          "\\fB\\-\\-name\\fR and \\fB\\-\\-no\\-name\\fR. A list is comma\\-separated or "
          "repeated.\n",
          f);
    cfg_print_man(f);
    fputs(".TP\n\\fB\\-\\-print\\-config\\fR\n"
          "Print the effective settings as a config file (secrets redacted) and exit.\n"
          ".TP\n\\fB\\-\\-help\\fR\nList every setting and exit.\n"
          ".TP\n\\fB\\-\\-man\\fR\nPrint this manual page in roff and exit.\n"
          ".SH CONFIGURATION FILE\n"
          "\\fB\\-\\-config\\fR \\fIFILE\\fR (or \\fBNEARFT_CONFIG\\fR) names a file of "
          "\\fIkey\\fR = \\fIvalue\\fR lines; \\fB#\\fR starts a comment; a value may be in "
          "double quotes (with \\e\" and \\e\\e escapes). The keys are the config keys above.\n"
          ".SH SIGNALS\n"
          ".TP\n.B SIGHUP\n"
          "Re\\-read the \\fB\\-\\-auth\\-tokens\\fR file; a bad file keeps the old tokens.\n"
          ".TP\n.BR SIGTERM \", \" SIGINT\n"
          "Stop accepting, let in\\-flight transactions resolve for up to 5 seconds, stop and "
          "exit 0. Whatever is unresolved is in the log and resumes at the next start, once.\n"
          ".SH SERVICE MANAGER\n"
          "When \\fBNOTIFY_SOCKET\\fR is set (systemd \\fBType=notify\\fR), nearftd reports "
          "its start\\-up steps as \\fBSTATUS=\\fR lines, sends \\fBREADY=1\\fR once the log is "
          "replayed and the listener answers, and \\fBSTOPPING=1\\fR when a stop signal "
          "arrives. A failed start reports \\fBSTATUS=failed: \\fR\\fIreason\\fR.\n"
          ".PP\n"
          "With \\fBWATCHDOG_USEC\\fR (systemd \\fBWatchdogSec=\\fR) a thread sends "
          "\\fBWATCHDOG=1\\fR every half of that interval while nearftd is alive: alive means "
          "its own \\fBGET /health\\fR, sent to the listener (a wildcard address is probed on "
          "loopback), is answered, healthy (200) or degraded (503), within a quarter of the "
          "interval. So a wedged listener gets nearftd restarted, while a degraded chain "
          "(RPC down, out of funds) does not: a restart would not cure it, and /health and the "
          "alerts report it.\n"
          ".SH FILES\n"
          ".TP\n.I /etc/nearft/nearftd.conf\n"
          "The config file the systemd unit passes with \\fB\\-\\-config\\fR "
          "(an example is installed under /usr/share/doc/nearft).\n"
          ".TP\n.I /var/lib/nearft\n"
          "The unit's state directory: put \\fBdata_dir\\fR (the durable log) here.\n"
          ".SH EXIT STATUS\n"
          "0 after a clean stop or \\fB\\-\\-help\\fR; 1 when start\\-up fails (keys, chain "
          "checks, log, listener); 2 for a configuration error, named on stderr.\n"
          ".SH SEE ALSO\n"
          ".BR nearft (1),\n"
          ".BR nearsim (1),\n"
          ".BR systemd.service (5),\n"
          ".BR sd_notify (3)\n",
          f);
}
