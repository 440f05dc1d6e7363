#include "config/client_settings.hpp"

#include <cctype>
#include <optional>
#include <set>

#include "config/schema.hpp"
#include "proto/command.hpp"

namespace ferry::config {
namespace {

using proto::upper;

bool is_boolean(const schema_entry& e) { return e.syntax == "TRUE | FALSE"; }

bool apply(const schema_entry& e, client_settings& s, const statement& st, std::string& error) {
    std::string msg;
    if (!e.apply_client(s, st, msg)) {
        error = msg;
        return false;
    }
    return true;
}

}  // namespace

bool parse_client_settings(std::string_view text, std::string_view file, client_settings& out, std::string& error) {
    std::vector<statement> sts;
    if (!lex(text, file, sts, error)) return false;
    client_settings s = out;
    std::set<std::string> once, repeated;
    for (const auto& st : sts) {
        const schema_entry* e = find_entry(st.keyword, side::client);
        if (!e) {
            error = st.where() + ": unknown statement '" + st.keyword + "' (ferry --help-config lists them)";
            return false;
        }
        if (!e->repeatable && !once.insert(st.keyword).second) {
            error = st.where() + ": " + st.keyword + " is given twice; it may appear once";
            return false;
        }
        // A repeatable statement's first occurrence replaces what was there (defaults, an earlier file).
        if (e->repeatable && repeated.insert(st.keyword).second && st.keyword == "CIPHERSUITE") s.ciphers.clear();
        std::string msg;
        if (!apply(*e, s, st, msg)) {
            error = st.where() + ": " + msg;
            return false;
        }
    }
    out = std::move(s);
    return true;
}

bool load_client_settings(const std::string& path, client_settings& out, std::string& error) {
    std::string text;
    return read_file(path, text, error) && parse_client_settings(text, path, out, error);
}

bool apply_locsite(client_settings& out, std::string_view line, std::string& error) {
    std::vector<statement> sts;
    std::string lex_error;
    if (!lex(line, "locsite", sts, lex_error)) {
        error = "locsite: unterminated quoted value";
        return false;
    }
    if (sts.size() != 1) {
        error = "locsite: give one or more settings, e.g. 'locsite EPSV4 TRUE' or 'locsite NOFWFRIENDLY'";
        return false;
    }
    std::vector<std::string> tokens{sts[0].keyword};
    tokens.insert(tokens.end(), sts[0].args.begin(), sts[0].args.end());

    client_settings s = out;
    for (std::size_t i = 0; i < tokens.size();) {
        std::string tok = tokens[i++];
        std::string keyword = tok;
        std::optional<std::string> inline_value;
        if (auto eq = tok.find('='); eq != std::string::npos) {
            keyword = tok.substr(0, eq);
            inline_value = tok.substr(eq + 1);
        }
        keyword = upper(keyword);
        statement st;
        st.file = "locsite";
        const schema_entry* e = find_entry(keyword, side::client);
        if (!e && keyword.size() > 2 && keyword.compare(0, 2, "NO") == 0 && !inline_value) {
            const schema_entry* neg = find_entry(keyword.substr(2), side::client);
            if (neg && is_boolean(*neg)) {
                st.keyword = std::string(neg->keyword);
                st.args = {"FALSE"};
                if (!apply(*neg, s, st, error)) return false;
                continue;
            }
        }
        if (!e) {
            error = "locsite: unknown setting '" + keyword + "' ('locsite' alone lists them)";
            return false;
        }
        st.keyword = keyword;
        if (inline_value) {
            st.args = {*inline_value};
        } else if (is_boolean(*e)) {
            // "EPSV4" alone means TRUE; "EPSV4 FALSE" is the statement form.
            if (i < tokens.size() && (upper(tokens[i]) == "TRUE" || upper(tokens[i]) == "FALSE"))
                st.args = {tokens[i++]};
            else
                st.args = {"TRUE"};
        } else {
            if (i >= tokens.size()) {
                error = "locsite: " + keyword + " needs a value: " + std::string(e->syntax);
                return false;
            }
            st.args = {tokens[i++]};
        }
        if (!apply(*e, s, st, error)) return false;
    }
    out = std::move(s);
    return true;
}

std::string describe_client_settings(const client_settings& s) {
    auto tf = [](bool b) { return b ? "TRUE" : "FALSE"; };
    auto ver = [](tls_version v) {
        return v == tls_version::tls1_2 ? "TLSV1.2" : v == tls_version::tls1_3 ? "TLSV1.3" : "ANY";
    };
    auto opt = [](const std::string& v, const char* none) { return v.empty() ? std::string(none) : v; };
    std::string out;
    out += std::string("FWFRIENDLY ") + tf(s.fwfriendly) + (s.fwfriendly ? "   (passive)\n" : "   (active)\n");
    out += std::string("EPSV4 ") + tf(s.epsv4) + "\n";
    out += std::string("PASSIVEIGNOREADDR ") + tf(s.passive_ignore_addr) + "\n";
    out += std::string("TLSRFCLEVEL ") +
           (s.tls_rfc == tls_rfc_level::draft ? "DRAFT" : s.tls_rfc == tls_rfc_level::rfc4217 ? "RFC4217" : "CCCNONOTIFY") +
           "\n";
    out += std::string("SECUREIMPLICITZOS ") + tf(s.secure_implicit_zos) + "\n";
    out += "FTPKEEPALIVE " + std::to_string(s.keepalive_seconds) + "\n";
    out += std::string("SECURE_FTP ") + (s.require_tls ? "REQUIRED" : "ALLOWED") + "\n";
    out += std::string("SECURE_DATACONN ") + (s.dataconn == data_protection::private_ ? "PRIVATE" : "CLEAR") + "\n";
    out += std::string("TLSMINVERSION ") + ver(s.tls_min) + "\n";
    out += std::string("TLSMAXVERSION ") + ver(s.tls_max) + "\n";
    if (s.ciphers.empty()) out += "CIPHERSUITE (OpenSSL defaults)\n";
    for (const auto& c : s.ciphers) out += "CIPHERSUITE " + c + "\n";
    out += "CAFILE " + opt(s.ca_file, "(system CA store)") + "\n";
    out += "CERTFILE " + opt(s.cert_file, "(none)") + "\n";
    out += "KEYFILE " + opt(s.key_file, s.cert_file.empty() ? "(none)" : "(CERTFILE)") + "\n";
    out += "MYOPENTIME " + std::to_string(s.connect_timeout) + "\n";
    out += "INACTTIME " + std::to_string(s.reply_timeout) + "\n";
    out += "DATACTTIME " + std::to_string(s.data_timeout) + "\n";
    return out;
}

}  // namespace ferry::config
