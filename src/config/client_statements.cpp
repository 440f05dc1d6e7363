// The client's statements (rows of the one schema table; see schema.hpp).
#include "config/detail/arguments.hpp"
#include "config/schema.hpp"

namespace ferry::config {

extern const std::vector<schema_entry> client_statements;
const std::vector<schema_entry> client_statements = {};

}  // namespace ferry::config
