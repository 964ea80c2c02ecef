#include "settingsdialog.h"

#include "config/serveoptions.h"

#include "tones.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QRadioButton>
#include <QVBoxLayout>

namespace sluice {

namespace {

/// The fields in their order; placeholders (the defaults) and tooltips come from serve's own
/// flag table, so they cannot drift from `sluice serve --help`.
struct FieldInfo
{
    const char *flag;
    const char *label;
};

const FieldInfo kFields[] = {
    { "instantly-url", "Instantly API URL" },
    { "close-url", "Close API URL" },
    { "redis", "Redis URL" },
    { "listen", "Listener address" },
    { "rate", "Workspace budget" },
    { "burst-rate", "Per-second cap" },
    { "safety-factor", "Safety factor" },
    { "workers", "Dispatchers" },
    { "coalesce", "Coalescing window" },
    { "batch-max", "Leads per bulk request" },
    { "request-timeout", "Request timeout" },
    { "retry-base", "First retry after" },
    { "retry-cap", "Longest retry delay" },
    { "max-attempts", "Attempts before dead letter" },
    { "breaker-open", "Breaker open period" },
    { "breaker-failure-rate", "Breaker failure rate (%)" },
    { "close-rate", "Close lookups cap" },
    { "journal", "Lead journal (on/off)" },
};

} // namespace

SettingsDialog::SettingsDialog(ConsoleSettings settings, QWidget *parent)
    : QDialog(parent)
    , m_initial(std::move(settings))
{
    setWindowTitle(tr("Sluice settings"));
    auto *layout = new QVBoxLayout(this);

    auto *mode = new QGroupBox(tr("Mode"), this);
    auto *modeLayout = new QHBoxLayout(mode);
    m_sandbox = new QRadioButton(tr("Sandbox (embedded fake Instantly and Close)"), mode);
    m_live = new QRadioButton(tr("Live (your Instantly workspace)"), mode);
    modeLayout->addWidget(m_sandbox);
    modeLayout->addWidget(m_live);
    (m_initial.live ? m_live : m_sandbox)->setChecked(true);
    layout->addWidget(mode);

    auto *keys = new QGroupBox(tr("Keys (stored in this user's settings, never logged)"), this);
    auto *keyForm = new QFormLayout(keys);
    m_instantlyKey = secretField(m_initial.instantlyApiKey);
    m_closeKey = secretField(m_initial.closeApiKey);
    m_webhookSecret = secretField(m_initial.webhookSecret);
    auto addSecret = [&](const QString &label, QLineEdit *edit) {
        auto *row = new QHBoxLayout;
        row->addWidget(edit, 1);
        auto *show = new QPushButton(tr("Show"), keys);
        show->setCheckable(true);
        connect(show, &QPushButton::toggled, edit, [edit, show](bool on) {
            edit->setEchoMode(on ? QLineEdit::Normal : QLineEdit::Password);
            show->setText(on ? tr("Hide") : tr("Show"));
        });
        row->addWidget(show);
        keyForm->addRow(label, row);
    };
    addSecret(tr("Instantly API key"), m_instantlyKey);
    addSecret(tr("Close API key"), m_closeKey);
    addSecret(tr("Close webhook signature key (hex)"), m_webhookSecret);
    layout->addWidget(keys);

    auto *engine = new QGroupBox(tr("Engine (empty: the default shown)"), this);
    auto *form = new QFormLayout(engine);
    for (const FieldInfo &f : kFields) {
        auto *edit = new QLineEdit(m_initial.flags.value(QLatin1String(f.flag)), engine);
        const auto info = serveFlagInfo(QLatin1String(f.flag));
        Q_ASSERT(info);
        edit->setPlaceholderText(info ? info->defaultText : QString());
        edit->setToolTip(tr("--%1 of sluice serve: %2")
                             .arg(QLatin1String(f.flag), info ? info->help : QString()));
        form->addRow(tr(f.label), edit);
        m_fields.insert(QLatin1String(f.flag), edit);
        connect(edit, &QLineEdit::textChanged, this, &SettingsDialog::validate);
    }
    layout->addWidget(engine);

    m_problem = new QLabel(this);
    m_problem->setWordWrap(true);
    m_problem->setStyleSheet(
        QStringLiteral("color:%1").arg(toneColor(Tone::Bad, palette()).name()));
    layout->addWidget(m_problem);
    auto *note = new QLabel(
        tr("After OK the console offers to restart its engine with the changes now; otherwise "
           "they apply when it starts again."),
        this);
    note->setWordWrap(true);
    note->setForegroundRole(QPalette::PlaceholderText);
    layout->addWidget(note);
    m_buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(m_buttons, &QDialogButtonBox::accepted, this, &SettingsDialog::accept);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(m_buttons);

    for (QLineEdit *edit : { m_instantlyKey, m_closeKey, m_webhookSecret })
        connect(edit, &QLineEdit::textChanged, this, &SettingsDialog::validate);
    connect(m_live, &QRadioButton::toggled, this, &SettingsDialog::validate);
    validate();
}

QLineEdit *SettingsDialog::secretField(const QString &text)
{
    auto *edit = new QLineEdit(text, this);
    edit->setEchoMode(QLineEdit::Password);
    edit->setPlaceholderText(tr("not set"));
    return edit;
}

ConsoleSettings SettingsDialog::settings() const
{
    ConsoleSettings s;
    for (auto it = m_fields.cbegin(); it != m_fields.cend(); ++it) {
        const QString value = it.value()->text().trimmed();
        if (!value.isEmpty())
            s.flags.insert(it.key(), value);
    }
    s.instantlyApiKey = m_instantlyKey->text().trimmed();
    s.closeApiKey = m_closeKey->text().trimmed();
    s.webhookSecret = m_webhookSecret->text().trimmed();
    s.live = m_live->isChecked();
    return s;
}

void SettingsDialog::setLive(bool live)
{
    (live ? m_live : m_sandbox)->setChecked(true);
}

void SettingsDialog::validate()
{
    const auto problem = settings().problem();
    QString text = problem.value_or(QString());
    // The parser names flags; this dialog names fields.
    for (const FieldInfo &f : kFields) {
        const QString flag = QStringLiteral("--") + QLatin1String(f.flag) + QLatin1Char(':');
        if (text.startsWith(flag))
            text = tr(f.label) + QLatin1Char(':') + text.mid(flag.size());
    }
    m_problem->setText(text);
    m_buttons->button(QDialogButtonBox::Ok)->setEnabled(!problem);
}

QString SettingsDialog::problemText() const
{
    return m_problem->text();
}

bool SettingsDialog::acceptable() const
{
    return m_buttons->button(QDialogButtonBox::Ok)->isEnabled();
}

void SettingsDialog::accept()
{
    if (!acceptable())
        return;
    if (m_live->isChecked() && !m_initial.live && m_confirmLive
        && QMessageBox::question(this, tr("Switch to live?"),
                                 tr("In live mode load tests send real leads to your Instantly "
                                    "workspace (the console asks before each one). Switch?"))
            != QMessageBox::Yes)
        return;
    QDialog::accept();
}

} // namespace sluice

#include "moc_settingsdialog.cpp" // NOLINT(bugprone-suspicious-include)
