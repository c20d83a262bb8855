// The system's libcrypto (OpenSSL 3, Debian libssl-dev): SHA-256 without adding a package to build.
#include <openssl/evp.h>
#include <openssl/sha.h>
