// The C side of the progress callback: adapts idpkit_event_callback's const char * to the
// exported Go function's char *.
#include "idpkit.h"
#include "_cgo_export.h"

void idpkit_go_event_trampoline(void *user_data, const char *event_json) {
  idpkitGoEvent(user_data, (char *)event_json);
}
