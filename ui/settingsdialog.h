#pragma once

#include "consolesettings.h"

#include <QDialog>
#include <QMap>

class QDialogButtonBox;
class QLabel;
class QLineEdit;
class QRadioButton;

namespace sluice {

/// The console's settings: mode (sandbox or live), the keys (masked, shown on demand), and
/// the `serve` settings (Redis, listener, limits and safety factor, retries, breaker,
/// coalescing). Validated as you type by the same parser `sluice serve` uses, with the
/// field named in the message; OK stays disabled while something is wrong. Switching to
/// live asks first.
class SettingsDialog : public QDialog
{
    Q_OBJECT
public:
    explicit SettingsDialog(ConsoleSettings settings, QWidget *parent = nullptr);

    ConsoleSettings settings() const;
    /// The validation message shown ("" when valid).
    QString problemText() const;
    bool acceptable() const;
    QLineEdit *field(const QString &flag) const { return m_fields.value(flag); }
    QLineEdit *instantlyKeyField() const { return m_instantlyKey; }
    void setLive(bool live);
    /// Asks before switching to live when `confirm`; the tests pass false.
    void setConfirmLive(bool confirm) { m_confirmLive = confirm; }

public Q_SLOTS:
    void accept() override;

private:
    QLineEdit *secretField(const QString &text);
    void validate();

    ConsoleSettings m_initial;
    QMap<QString, QLineEdit *> m_fields;
    QLineEdit *m_instantlyKey;
    QLineEdit *m_closeKey;
    QLineEdit *m_webhookSecret;
    QRadioButton *m_sandbox;
    QRadioButton *m_live;
    QLabel *m_problem;
    QDialogButtonBox *m_buttons;
    bool m_confirmLive = true;
};

} // namespace sluice
