"""E-mails that tell the other party of an exchange or a loan that it is their turn.

Each step of :mod:`community.ledger` and :mod:`community.loans` that waits for the
other person (an answer to their offer, an hour to confirm, a loan to agree...) sends
them one short message through the outbox (:func:`mail.enqueue_mail`, in the step's
own transaction) in their language, with a link to the page where they act. It names
the person by their display name only; no address ever appears.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from mail import enqueue_mail
from mail.config import MailSettings

__all__ = ["EVENTS", "notify"]

EVENTS: dict[str, dict[str, tuple[str, str]]] = {
    # event: {lang: (subject, intro)}; {who}, {title}, {time}, {reason}, {due} filled in
    "exchange.proposed": {
        "fr": ("{who} répond à votre annonce « {title} »",
               "{who} souhaite un échange de temps autour de « {title} ». Convenez des "
               "détails par message ; une fois le service rendu, la personne qui a donné "
               "le temps l'enregistre sur la page de l'échange."),
        "en": ("{who} answered your offer “{title}”",
               "{who} would like a time exchange around “{title}”. Agree on the details "
               "by message; once the service has happened, the one who gave the time "
               "records it on the exchange's page.")},
    "exchange.recorded": {
        "fr": ("À confirmer : {time} reçu de {who}",
               "{who} a enregistré {time} donné pour vous. Confirmez-le (le temps est "
               "alors inscrit sur vos deux comptes) ou contestez-le s'il y a une erreur."),
        "en": ("To confirm: {time} received from {who}",
               "{who} recorded {time} given to you. Confirm it (the time is then booked "
               "on both your accounts) or dispute it if something is wrong.")},
    "exchange.confirmed": {
        "fr": ("{who} a confirmé : {time} inscrit à votre solde",
               "{who} a confirmé l'échange : {time} est inscrit à votre solde."),
        "en": ("{who} confirmed: {time} added to your balance",
               "{who} confirmed the exchange: {time} is added to your balance.")},
    "exchange.disputed": {
        "fr": ("{who} conteste l'échange enregistré",
               "{who} conteste ce que vous avez enregistré : « {reason} ». Vous pouvez le "
               "corriger sur la page de l'échange."),
        "en": ("{who} disputes the recorded exchange",
               "{who} disputes what you recorded: “{reason}”. You can correct it on the "
               "exchange's page.")},
    "loan.requested": {
        "fr": ("{who} aimerait emprunter « {title} »",
               "{who} aimerait emprunter « {title} ». Acceptez en fixant les dates, ou "
               "refusez, sur la page du prêt."),
        "en": ("{who} would like to borrow “{title}”",
               "{who} would like to borrow “{title}”. Agree with the dates, or decline, "
               "on the loan's page.")},
    "loan.offered": {
        "fr": ("{who} peut vous prêter « {title} »",
               "{who} répond à votre demande « {title} » et peut vous le prêter. Les dates "
               "se fixent sur la page du prêt."),
        "en": ("{who} can lend you “{title}”",
               "{who} answered your request “{title}” and can lend it to you. The dates "
               "are set on the loan's page.")},
    "loan.agreed": {
        "fr": ("{who} accepte : « {title} »",
               "{who} accepte votre demande pour « {title} »{due}. Indiquez sur la page du "
               "prêt quand l'objet change de mains."),
        "en": ("{who} agreed: “{title}”",
               "{who} agreed to your request for “{title}”{due}. Say on the loan's page "
               "when it changes hands.")},
    "loan.declined": {
        "fr": ("{who} ne peut pas prêter « {title} »",
               "{who} a décliné votre demande pour « {title} »."),
        "en": ("{who} cannot lend “{title}”", "{who} declined your request for “{title}”.")},
    "loan.lent": {
        "fr": ("« {title} » a changé de mains", "{who} indique que « {title} » a changé de "
               "mains. Confirmez-le sur la page du prêt."),
        "en": ("“{title}” changed hands", "{who} says “{title}” changed hands. Confirm it "
               "on the loan's page.")},
    "loan.returned": {
        "fr": ("« {title} » : retour indiqué par {who}",
               "{who} indique que « {title} » est revenu. Confirmez-le sur la page du prêt."),
        "en": ("“{title}”: {who} says it is back",
               "{who} says “{title}” is back. Confirm it on the loan's page.")},
    "loan.cancelled": {
        "fr": ("« {title} » : demande annulée", "{who} a annulé le prêt de « {title} »."),
        "en": ("“{title}”: request cancelled", "{who} cancelled the loan of “{title}”.")},
    "exchange.reversed": {
        "fr": ("Un échange de temps a été annulé par la modération",
               "La modération a annulé l'échange de {time} (écriture inverse inscrite sur "
               "vos deux comptes). Motif : « {reason} »."),
        "en": ("A time exchange was reversed by the moderators",
               "The moderators reversed the exchange of {time} (an opposite entry is "
               "booked on both your accounts). Reason: “{reason}”.")},
    "loan.moderated": {
        "fr": ("« {title} » : prêt annulé par la modération",
               "La modération a annulé le prêt de « {title} ». Motif : « {reason} »."),
        "en": ("“{title}”: loan cancelled by the moderators",
               "The moderators cancelled the loan of “{title}”. Reason: “{reason}”.")},
}
LABELS = {"fr": ("Ouvrir la page", "un habitant"), "en": ("Open the page", "a resident")}


def notify(session: Session, event: str, *, to: int, by: int | None, path: str,
           title: str = "",
           time: str = "", reason: str = "", due: str = "",
           settings: MailSettings | None = None) -> int | None:
    """Queue the message of ``event`` to resident ``to`` about resident ``by``.

    ``path`` is the page to act on (``/exchange/12``); ``None`` when the recipient has
    no address any more (a deleted account).
    """
    row = session.execute(text(
        "SELECT r.email, r.lang, (SELECT display_name FROM resident WHERE id = :b) AS who "
        "FROM resident r WHERE r.id = :t AND r.deleted_at IS NULL"),
        {"t": to, "b": by}).one_or_none()
    if row is None or not row.email:
        return None
    lang = row.lang if row.lang in ("fr", "en") else "fr"
    subject, intro = EVENTS[event][lang]
    label, someone = LABELS[lang]
    words = {"who": row.who or someone, "title": title, "time": time, "reason": reason,
             "due": due}
    settings = settings or MailSettings.from_env()
    return enqueue_mail(session, to=row.email, template="notice", lang=lang, context={
        "subject": subject.format(**words), "intro": intro.format(**words),
        "url": settings.public_url.rstrip("/") + path, "url_label": label},
        settings=settings)
