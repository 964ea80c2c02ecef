#include "runsession.h"

#include "runs/verifier.h"

#include <QPointer>

namespace sluice {

RunSession::RunSession(RunSessionServices services, QObject *parent)
    : QObject(parent)
    , m_services(std::move(services))
{
    if (m_services.run.redis)
        m_ledger.emplace(m_services.run.redis, m_services.run.keys);
}

RunSession::~RunSession() = default;

std::optional<QString> RunSession::start(const RunDefinition &definition, RunSteps steps)
{
    if (m_running)
        return QStringLiteral("a run session does one job at a time");
    auto *run = new LoadTestRun(definition, m_services.run, this);
    if (auto problem = run->problem()) {
        delete run;
        return problem;
    }
    begin({});
    m_steps = steps;
    m_run = run;
    connect(run, &LoadTestRun::progressChanged, this, [this](const LoadTestProgress &p) {
        m_progress.state = p.state;
        m_progress.run = p;
        report();
    });
    connect(run, &LoadTestRun::finished, this, &RunSession::runFinished);
    run->start();
    return std::nullopt;
}

bool RunSession::verify(const RunRecord &record, bool repair)
{
    if (m_running || !m_services.run.instantly)
        return false;
    begin(record);
    startVerify(repair);
    return true;
}

bool RunSession::cleanUp(const RunRecord &record, CleanupMode mode)
{
    if (m_running || !m_services.run.instantly)
        return false;
    begin(record);
    startCleanup(mode);
    return true;
}

void RunSession::abort(const QString &reason)
{
    if (m_run && !m_run->isDone())
        m_run->abort(reason);
}

void RunSession::begin(const RunRecord &record)
{
    m_running = true;
    m_steps = {};
    m_outcome = {};
    m_outcome.record = record;
    m_finalState = record.state;
    m_progress = {};
}

void RunSession::runFinished()
{
    RunRecord &r = m_outcome.record;
    r = m_run->record();
    r.instantlyUrl = m_services.instantlyUrl;
    r.embeddedSandbox = m_services.embeddedSandbox;
    m_finalState = r.state; // finished or aborted
    if (m_steps.verify && r.stopReason.isEmpty())
        startVerify(false);
    else if (m_steps.cleanup)
        startCleanup(CleanupMode::Delete);
    else
        conclude();
}

void RunSession::startVerify(bool repair)
{
    enterStep(RunRecord::State::Verifying);
    auto *verifier = new Verifier(m_services.run.instantly, {}, this);
    if (m_services.journal)
        verifier->setJournal(*m_services.journal);
    connect(verifier, &Verifier::progressed, this, [this](int pages, int listed) {
        m_progress.pages = pages;
        m_progress.listed = listed;
        report();
    });
    connect(verifier, &Verifier::finished, this, [this, verifier](const VerifyReport &done) {
        verifier->deleteLater(); // we are inside its signal
        m_outcome.record.verify = done;
        m_outcome.verified = done;
        if (m_steps.cleanup)
            startCleanup(CleanupMode::Delete);
        else
            conclude();
    });
    std::optional<RepairTarget> target;
    if (repair)
        target = RepairTarget { m_services.run.redis, m_services.run.keys };
    verifier->start(m_outcome.record.definition, target);
}

void RunSession::startCleanup(CleanupMode mode)
{
    enterStep(RunRecord::State::CleaningUp);
    auto *cleaner = new Cleaner(m_services.run.instantly, {}, this);
    if (m_services.journal)
        cleaner->setJournal(*m_services.journal);
    connect(cleaner, &Cleaner::progressed, this, [this](int pages, int deleted, int found) {
        m_progress.pages = pages;
        m_progress.deleted = deleted;
        m_progress.found = found;
        report();
    });
    connect(cleaner, &Cleaner::finished, this, [this, cleaner](const CleanupReport &done) {
        cleaner->deleteLater(); // we are inside its signal
        m_outcome.cleaned = done;
        if (!done.dryRun)
            m_outcome.record.cleanup = done;
        conclude();
    });
    cleaner->start(m_outcome.record, mode);
}

void RunSession::enterStep(RunRecord::State state)
{
    m_outcome.record.state = state;
    m_progress = {};
    m_progress.state = state;
    report();
}

void RunSession::conclude()
{
    RunRecord &r = m_outcome.record;
    r.state = m_finalState;
    judgeRecord(r);
    if (m_outcome.cleaned && m_outcome.cleaned->dryRun) {
        finish(); // a dry run changes nothing, so it writes nothing
        return;
    }
    if (!m_ledger) {
        LedgerError error;
        error.kind = LedgerError::Kind::Invalid;
        error.message
            = QStringLiteral("there is no Redis to keep run '%1' in").arg(r.definition.id);
        m_outcome.saveError = error;
        finish();
        return;
    }
    QPointer<RunSession> self(this);
    m_ledger->save(r, [self](Result<RunSaveOutcome, LedgerError> saved) {
        if (!self)
            return;
        self->m_outcome.saved = saved.ok();
        if (!saved.ok())
            self->m_outcome.saveError = saved.error();
        self->finish();
    });
}

void RunSession::finish()
{
    m_running = false;
    if (m_run) {
        m_run->deleteLater(); // its finished() may still be on the stack
        m_run = nullptr;
    }
    // A copy: a receiver may start the next job, which starts a new outcome.
    const RunOutcome outcome = m_outcome;
    Q_EMIT finished(outcome);
}

void RunSession::report()
{
    Q_EMIT progressChanged(m_progress);
}

} // namespace sluice

#include "moc_runsession.cpp" // NOLINT(bugprone-suspicious-include)
