"""Campaign linking: shared users, host chains, spans, hop order."""

from __future__ import annotations

import pytest

from detections.campaigns import hop_order, link_campaigns


def alert(key, t, src, dst, user="", score=0.9, severity="medium", end=None, facts=(), **kw):
    return {
        "key": key,
        "time": t,
        "last_time": t if end is None else end,
        "src_host": src,
        "dst_host": dst,
        "user": user,
        "score": score,
        "severity": severity,
        "techniques": [],
        "explanation": [{"feature": f} for f in facts],
        **kw,
    }


def test_host_chain_is_linked_in_hop_order():
    alerts = [
        alert("c", 300, "h3", "h4"),
        alert("a", 100, "h1", "h2"),
        alert("b", 200, "h2", "h3"),
        alert("z", 150, "x1", "x2"),
    ]
    (c,) = link_campaigns(alerts, span_seconds=500)
    assert c.alert_keys == ["a", "b", "c"]
    assert c.hosts == ["h1", "h2", "h3", "h4"]
    assert (c.first_time, c.last_time, c.key) == (100, 300, "a")
    assert c.severity == "medium"  # the worst member's: the stage already scored the path


def test_chain_needs_the_next_hop_within_span_and_not_before():
    alerts = [alert("a", 100, "h1", "h2"), alert("b", 1000, "h2", "h3")]
    assert link_campaigns(alerts, span_seconds=500) == []
    backwards = [alert("a", 100, "h2", "h3"), alert("b", 200, "h1", "h2")]
    assert link_campaigns(backwards, span_seconds=500) == []


def test_shared_person_links_but_machine_accounts_do_not():
    alerts = [
        alert("a", 100, "h1", "h2", user="bob@corp"),
        alert("b", 400, "h7", "h8", user="bob@corp"),
        alert("c", 150, "h5", "h6", user="WS1$@corp"),
        alert("d", 160, "h9", "h10", user="WS1$@corp"),
    ]
    (c,) = link_campaigns(alerts, span_seconds=500)
    assert c.alert_keys == ["a", "b"] and c.users == ["bob@corp"]


def test_link_is_transitive_and_span_is_between_neighbours():
    alerts = [alert(str(i), i * 400, f"h{i}", f"h{i + 1}", user="eve@corp") for i in range(5)]
    (c,) = link_campaigns(alerts, span_seconds=450)
    assert len(c.alert_keys) == 5 and c.first_time == 0 and c.last_time == 1600


def test_equal_times_put_the_hop_into_a_host_first():
    ordered = hop_order([alert("k1", 5, "b", "c"), alert("k2", 5, "a", "b")])
    assert [a["key"] for a in ordered] == ["k2", "k1"]


def test_negative_span_is_refused():
    with pytest.raises(ValueError, match="span_seconds"):
        link_campaigns([], span_seconds=-1)


def test_owner_at_work_is_not_linked_to_a_stolen_use_of_the_account():
    at_desk = ("logged_on_at_source",)
    alerts = [
        alert("thief", 100, "f1", "s1", user="adm@corp", facts=("account_new_to_source",)),
        alert("owner", 200, "ws9", "s2", user="adm@corp", facts=at_desk),
        alert("next", 300, "s1", "s3", user="adm@corp"),
    ]
    (c,) = link_campaigns(alerts, span_seconds=500)
    assert c.alert_keys == ["thief", "next"]
    # The compromised host's own user, at work there, does not join the chain either.
    local = [
        alert("hop", 100, "f1", "s1", user="x@corp"),
        alert("own", 200, "s1", "s4", user="y@corp", facts=at_desk),
    ]
    assert link_campaigns(local, span_seconds=500) == []


def test_one_foothold_with_several_stolen_accounts_is_one_campaign():
    stolen = ("account_new_to_source",)
    alerts = [
        alert("a", 100, "f1", "s1", user="u1@corp", facts=stolen),
        alert("b", 300, "f1", "s2", user="u2@corp", facts=stolen),
        alert("c", 350, "f1", "s3", user="u3@corp"),  # not a stolen account: no link
        alert("d", 400, "x", "s5", user="u4@corp", suppressed=True, facts=stolen),
    ]
    (c,) = link_campaigns(alerts, span_seconds=500)
    assert c.alert_keys == ["a", "b"] and c.priority == pytest.approx(1 + 0.999 * 0.9)
