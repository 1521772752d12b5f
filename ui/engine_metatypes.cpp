#include "ui/engine_metatypes.h"

#include "ui/run_failure.h"

namespace gp::ui {

void registerEngineMetaTypes() {
    qRegisterMetaType<gp::StageEvent>();
    qRegisterMetaType<gp::ProgressEvent>();
    qRegisterMetaType<gp::HistogramEvent>();
    qRegisterMetaType<gp::NormalFitEvent>();
    qRegisterMetaType<gp::SearchStepEvent>();
    qRegisterMetaType<gp::ThresholdEvent>();
    qRegisterMetaType<gp::LayerResultEvent>();
    qRegisterMetaType<gp::MemorySampleEvent>();
    qRegisterMetaType<gp::MetricEvent>();
    qRegisterMetaType<gp::LogEvent>();
    qRegisterMetaType<gp::ModelInfo>();
    qRegisterMetaType<gp::EvalResult>();
    qRegisterMetaType<gp::Preview>();
    qRegisterMetaType<gp::ExportResult>();
    qRegisterMetaType<std::shared_ptr<const gp::PruneResult>>();
    qRegisterMetaType<gp::ui::RunFailure>();
}

}  // namespace gp::ui
