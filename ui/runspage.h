#pragma once

#include "runs/loadtest.h"

#include <QWidget>

#include <memory>

class QLabel;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QTreeWidget;

namespace sluice {

class LocalEngine;

/// Load tests from the console: stage buttons (20/200/500/1000/2000) and a custom count, the
/// predicted duration before starting, live progress with an ETA, the verdict with its
/// checks, and this session's runs.
class RunsPage : public QWidget
{
    Q_OBJECT
public:
    RunsPage(LocalEngine *engine, bool live, QWidget *parent = nullptr);
    ~RunsPage() override;

    /// Starts a run of `leads` (what the stage buttons do). False when one is running, or
    /// when live mode and the operator declined.
    bool startRun(int leads, const QString &stage);
    bool running() const { return m_run != nullptr; }
    const LoadTestRun *currentRun() const { return m_run.get(); }
    const std::vector<RunRecord> &history() const { return m_history; }
    QString predictionText() const;
    QString verdictText() const;
    QTreeWidget *checksView() const { return m_checks; }

Q_SIGNALS:
    void runFinished(const sluice::RunRecord &record);

private:
    void updatePrediction();
    void showProgress(const LoadTestProgress &p);
    void finished();
    void addHistoryRow(const RunRecord &r);

    LocalEngine *m_engine;
    bool m_live;
    std::unique_ptr<LoadTestRun> m_run;
    std::vector<RunRecord> m_history;
    QList<QPushButton *> m_stageButtons;
    QSpinBox *m_custom;
    QPushButton *m_customButton;
    QLabel *m_prediction;
    QProgressBar *m_progress;
    QLabel *m_status;
    QLabel *m_verdict;
    QTreeWidget *m_checks;
    QTableWidget *m_table;
};

} // namespace sluice
