"""E-mails that tell the other party of an exchange or a loan that it is their turn.

Each step of :mod:`community.ledger` and :mod:`community.loans` that waits for the
other person (an answer to their offer, an hour to confirm, a loan to agree...) sends
them one short message through the outbox (:func:`mail.enqueue_mail`, in the step's
own transaction) in their language (the ``community`` gettext catalogue, see
:mod:`community.i18n`), with a link to the page where they act. It names the person by
their display name only; no address ever appears.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

from mail import enqueue_mail
from mail.config import MailSettings

from .i18n import N_, day, language, t

__all__ = ["EVENTS", "notify"]

EVENTS: dict[str, tuple[str, str]] = {
    # event: (subject, intro) in French, translated by the ``community`` catalogue;
    # {who}, {title}, {time}, {reason}, {due} filled in after translation
    "exchange.proposed": (
        N_("{who} répond à votre annonce « {title} »"),
        N_("{who} souhaite un échange de temps autour de « {title} ». Convenez des détails par "
           "message ; une fois le service rendu, la personne qui a donné le temps l'enregistre "
           "sur la page de l'échange.")),
    "exchange.recorded": (
        N_("À confirmer : {time} reçu de {who}"),
        N_("{who} a enregistré {time} donné pour vous. Confirmez-le (le temps est alors inscrit "
           "sur vos deux comptes) ou contestez-le s'il y a une erreur.")),
    "exchange.confirmed": (
        N_("{who} a confirmé : {time} inscrit à votre solde"),
        N_("{who} a confirmé l'échange : {time} est inscrit à votre solde.")),
    "exchange.disputed": (
        N_("{who} conteste l'échange enregistré"),
        N_("{who} conteste ce que vous avez enregistré : « {reason} ». Vous pouvez le corriger "
           "sur la page de l'échange.")),
    "loan.requested": (
        N_("{who} aimerait emprunter « {title} »"),
        N_("{who} aimerait emprunter « {title} ». Acceptez en fixant les dates, ou refusez, sur "
           "la page du prêt.")),
    "loan.offered": (
        N_("{who} peut vous prêter « {title} »"),
        N_("{who} répond à votre demande « {title} » et peut vous le prêter. Les dates se fixent "
           "sur la page du prêt.")),
    "loan.agreed": (
        N_("{who} accepte : « {title} »"),
        N_("{who} accepte votre demande pour « {title} »{due}. Indiquez sur la page du prêt quand "
           "l'objet change de mains.")),
    "loan.declined": (
        N_("{who} ne peut pas prêter « {title} »"),
        N_("{who} a décliné votre demande pour « {title} ».")),
    "loan.lent": (
        N_("« {title} » a changé de mains"),
        N_("{who} indique que « {title} » a changé de mains. Confirmez-le sur la page du prêt.")),
    "loan.returned": (
        N_("« {title} » : retour indiqué par {who}"),
        N_("{who} indique que « {title} » est revenu. Confirmez-le sur la page du prêt.")),
    "loan.cancelled": (
        N_("« {title} » : demande annulée"),
        N_("{who} a annulé le prêt de « {title} ».")),
    "exchange.reversed": (
        N_("Un échange de temps a été annulé par la modération"),
        N_("La modération a annulé l'échange de {time} (écriture inverse inscrite sur vos deux "
           "comptes). Motif : « {reason} ».")),
    "loan.moderated": (
        N_("« {title} » : prêt annulé par la modération"),
        N_("La modération a annulé le prêt de « {title} ». Motif : « {reason} ».")),
}
UNTIL = N_("(jusqu'au {day})")
OPEN_PAGE = N_("Ouvrir la page")
SOMEONE = N_("un habitant")


def notify(session: Session, event: str, *, to: int, by: int | None, path: str,
           title: str = "",
           time: str = "", reason: str = "", due: str = "", due_on: date | None = None,
           settings: MailSettings | None = None) -> int | None:
    """Queue the message of ``event`` to resident ``to`` about resident ``by``.

    ``path`` is the page to act on (``/exchange/12``); ``due_on`` (an agreed loan's
    return day) is written " (until …)" in the recipient's language, in place of a
    ready-made ``due``. ``None`` when the recipient has no address any more (a deleted
    account).
    """
    row = session.execute(text(
        "SELECT r.email, r.lang, (SELECT display_name FROM resident WHERE id = :b) AS who "
        "FROM resident r WHERE r.id = :t AND r.deleted_at IS NULL"),
        {"t": to, "b": by}).one_or_none()
    if row is None or not row.email:
        return None
    lang = language(row.lang)  # French when the catalogue lacks the resident's language
    subject, intro = (t(lang, text_) for text_ in EVENTS[event])
    if due_on is not None:
        due = " " + t(lang, UNTIL).format(day=day(lang, due_on))
    words = {"who": row.who or t(lang, SOMEONE), "title": title, "time": time, "reason": reason,
             "due": due}
    settings = settings or MailSettings.from_env()
    return enqueue_mail(session, to=row.email, template="notice", lang=lang, context={
        "subject": subject.format(**words), "intro": intro.format(**words),
        "url": settings.public_url.rstrip("/") + path, "url_label": t(lang, OPEN_PAGE)},
        settings=settings)
