#define PCRE2_CODE_UNIT_WIDTH 8
#include "core/tokenizer/unicode_regex.h"

#include <pcre2.h>

#include <stdexcept>

#include "core/runtime/error.h"
#include "core/tokenizer/utf8.h"

namespace gp {
namespace {

struct MatchData {
    explicit MatchData(const pcre2_code* code)
        : data(pcre2_match_data_create_from_pattern(code, nullptr)) {
        if (!data) throw std::bad_alloc();
    }
    ~MatchData() { pcre2_match_data_free(data); }
    MatchData(const MatchData&) = delete;
    MatchData& operator=(const MatchData&) = delete;
    pcre2_match_data* data;
};

std::string pcre2Message(int code) {
    PCRE2_UCHAR buffer[256];
    pcre2_get_error_message(code, buffer, sizeof(buffer));
    return reinterpret_cast<const char*>(buffer);
}

}  // namespace

struct UnicodeRegex::Compiled {
    pcre2_code* code = nullptr;
    ~Compiled() { pcre2_code_free(code); }
};

UnicodeRegex::UnicodeRegex(const std::string& pattern, bool literal, Source source)
    : m_pattern(pattern), m_source(std::move(source)), m_compiled(std::make_unique<Compiled>()) {
    // PCRE2 refuses UCP beside LITERAL; a literal needs no character classes anyway.
    const uint32_t options = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    int errorCode = 0;
    PCRE2_SIZE errorOffset = 0;
    m_compiled->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     options, &errorCode, &errorOffset, nullptr);
    if (!m_compiled->code)
        throw std::invalid_argument("bad regular expression at offset " +
                                    std::to_string(errorOffset) + ": " + pcre2Message(errorCode));
    // JIT is an optimisation only: when the platform lacks it, the interpreter gives the same
    // matches, so a failure here is not an error.
    pcre2_jit_compile(m_compiled->code, PCRE2_JIT_COMPLETE);
}

UnicodeRegex::~UnicodeRegex() = default;
UnicodeRegex::UnicodeRegex(UnicodeRegex&&) noexcept = default;
UnicodeRegex& UnicodeRegex::operator=(UnicodeRegex&&) noexcept = default;

// One match attempt; a JIT stack overflow (pathological input) is retried by the interpreter,
// which keeps its backtracking state on the heap.
int UnicodeRegex::matchAt(std::string_view text, size_t offset, uint32_t options,
                          void* matchData) const {
    auto* data = static_cast<pcre2_match_data*>(matchData);
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    int rc = pcre2_match(m_compiled->code, subject, text.size(), offset,
                         options | PCRE2_NO_UTF_CHECK, data, nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(m_compiled->code, subject, text.size(), offset,
                         options | PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, data, nullptr);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
        const std::string problem =
            "matching failed at byte " + std::to_string(offset) + ": " + pcre2Message(rc);
        if (m_source.file.empty())
            throw Error(ErrorKind::Internal, "", "regular expression " + m_pattern, problem);
        throw badInput(m_source.file, m_source.key + " (regular expression " + m_pattern + ")",
                       problem + " (the pattern backtracks too much for this text)");
    }
    return rc;
}

std::vector<TextSpan> UnicodeRegex::findAll(std::string_view text) const {
    std::vector<TextSpan> spans;
    MatchData match(m_compiled->code);
    size_t offset = 0;
    while (offset <= text.size()) {
        if (matchAt(text, offset, 0, match.data) == PCRE2_ERROR_NOMATCH) break;
        const PCRE2_SIZE* vector = pcre2_get_ovector_pointer(match.data);
        const TextSpan span{vector[0], vector[1]};
        if (span.end > span.begin) spans.push_back(span);
        if (span.end > offset) {
            offset = span.end;
        } else {
            // An empty match: step over one whole character so the next search can progress.
            if (offset >= text.size()) break;
            offset += utf8SequenceLength(static_cast<unsigned char>(text[offset]));
        }
    }
    return spans;
}

bool UnicodeRegex::matchesAt(std::string_view text, size_t offset) const {
    MatchData match(m_compiled->code);
    return matchAt(text, offset, PCRE2_ANCHORED, match.data) != PCRE2_ERROR_NOMATCH;
}

}  // namespace gp
