// libavahi-client: the client side of avahi-daemon (mDNS/DNS-SD) over D-Bus. We supply our own AvahiPoll
// (Sources/Discovery/AvahiLoop.swift) so Avahi runs inside the agent's single poll() loop.
#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/address.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-common/watch.h>
