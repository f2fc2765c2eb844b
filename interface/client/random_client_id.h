#ifndef INTERFACE_CLIENT_RANDOM_CLIENT_ID_H_
#define INTERFACE_CLIENT_RANDOM_CLIENT_ID_H_

#include <cstdint>

namespace resdb {

// A random non-zero client id, for a client without a key to derive one from.
uint64_t RandomClientId();

}  // namespace resdb

#endif  // INTERFACE_CLIENT_RANDOM_CLIENT_ID_H_
