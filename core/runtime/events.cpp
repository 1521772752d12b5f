#include "core/runtime/events.h"

namespace gp {

const char* stageName(Stage stage) {
    switch (stage) {
        case Stage::Load: return "load";
        case Stage::Calibrate: return "calibrate";
        case Stage::Score: return "score";
        case Stage::Select: return "select";
        case Stage::Probe: return "probe";
        case Stage::Apply: return "apply";
        case Stage::Evaluate: return "evaluate";
        case Stage::Export: return "export";
        case Stage::Train: return "train";
    }
    return "unknown";
}

}  // namespace gp
