/* manpage: nearftd(8) as roff (`nearftd --man`); the build installs its output. */
#ifndef NF_MANPAGE_H
#define NF_MANPAGE_H

#include <stdio.h>

/* manpage_nearftd: writes the whole page to f. Main thread. */
void manpage_nearftd(FILE *f);

#endif
