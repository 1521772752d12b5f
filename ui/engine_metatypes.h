// The engine's plain value types as Qt meta-types, so they can travel through queued signals
// from the RunWorker's thread to the GUI thread. Big payloads travel as shared_ptr<const T>.
#pragma once

#include <QMetaType>

#include <memory>

#include "core/api/engine.h"
#include "core/runtime/events.h"

Q_DECLARE_METATYPE(gp::StageEvent)
Q_DECLARE_METATYPE(gp::ProgressEvent)
Q_DECLARE_METATYPE(gp::HistogramEvent)
Q_DECLARE_METATYPE(gp::NormalFitEvent)
Q_DECLARE_METATYPE(gp::SearchStepEvent)
Q_DECLARE_METATYPE(gp::ThresholdEvent)
Q_DECLARE_METATYPE(gp::LayerResultEvent)
Q_DECLARE_METATYPE(gp::MemorySampleEvent)
Q_DECLARE_METATYPE(gp::MetricEvent)
Q_DECLARE_METATYPE(gp::LogEvent)
Q_DECLARE_METATYPE(gp::ModelInfo)
Q_DECLARE_METATYPE(gp::EvalResult)
Q_DECLARE_METATYPE(gp::Preview)
Q_DECLARE_METATYPE(gp::ExportResult)
Q_DECLARE_METATYPE(std::shared_ptr<const gp::PruneResult>)

namespace gp::ui {

// Registers the types above (idempotent). Called by RunController before its first connection.
void registerEngineMetaTypes();

}  // namespace gp::ui
