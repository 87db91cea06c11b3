"""Native unit tests of the SDK and the examples' logic, against the
bindings componentize-py generates (host calls replaced by fakes).

    componentize-py -d wit -w switchyard:plugin/crm-connector bindings /tmp/b/crm-connector
    componentize-py -d wit -w switchyard:plugin/call-flow bindings /tmp/b/call-flow
    SWITCHYARD_PY_BINDINGS=/tmp/b python3 -m unittest discover -s sdk/python/tests

`scripts/build-python-plugins` runs them before it builds the examples.
"""

import importlib
import os
import sys
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BINDINGS = os.environ.get("SWITCHYARD_PY_BINDINGS", "")


def fresh(world, *paths):
    """Import path for one world's bindings (forgetting any other's)."""
    for name in list(sys.modules):
        if name.split(".")[0] in ("wit_world", "switchyard", "app", "componentize_py_types"):
            del sys.modules[name]
    sys.path[:] = [os.path.join(BINDINGS, world), os.path.join(ROOT, "sdk", "python"),
                   *paths] + [p for p in sys.path if BINDINGS not in p and ROOT not in p]


@unittest.skipUnless(BINDINGS, "set SWITCHYARD_PY_BINDINGS to the generated bindings")
class CrmConnector(unittest.TestCase):
    def setUp(self):
        fresh("crm-connector", os.path.join(ROOT, "examples", "crm-connector-py"))
        self.settings = {
            "base-url": "https://crm.example.com/api",
            "fields": '{"id": "uid", "name": "p.fullname", "company": "org.name", "tags": "labels"}',
        }
        config = importlib.import_module("wit_world.imports.config")
        config.get = self.settings.get
        config.get_all = lambda: sorted(self.settings.items())
        self.app = importlib.import_module("app")
        self.Err = importlib.import_module("componentize_py_types").Err

    def test_field_mapping_reads_nested_keys(self):
        app = self.app
        body = {"items": [{"uid": 7, "p": {"fullname": "Ada"}, "org": {"name": "AE"},
                           "labels": "vip, x", "plan": "gold", "n": None}]}
        c = app.contact_from(app.first_contact(body), app.field_map())
        self.assertEqual((c.id, c.name, c.company, c.tags), ("7", "Ada", "AE", ["vip", "x"]))
        self.assertEqual(c.fields, [("plan", "gold")])
        self.assertIsNone(app.first_contact([]))
        self.assertIsNone(app.contact_from({"uid": 1}, app.field_map()), "no name: nobody")

    def test_bad_settings_are_errors_that_name_them(self):
        for value, words in [("{", "is not valid JSON"), ('{"nmae": "x"}', "unknown contact field(s) nmae"),
                             ('{"name": 3}', "`name` must name a CRM key")]:
            self.settings["fields"] = value
            with self.assertRaises(self.Err) as e:
                self.app.Crm().lookup("+1")
            self.assertIn(words, e.exception.value)

    def test_urls_and_query_values(self):
        http = importlib.import_module("switchyard.http")
        self.assertEqual(http.split_url("http://h:1/a?b=1"), ("http", "h:1", "/a?b=1"))
        self.assertEqual(http.split_url("https://h"), ("https", "h", "/"))
        for bad in ("ftp://h/", "http:///p", "http://h?x=1"):
            with self.assertRaises(http.HttpError):
                http.split_url(bad)
        self.assertEqual(http.encode_query_value("+1 555/0100"), "%2B1%20555%2F0100")


@unittest.skipUnless(BINDINGS, "set SWITCHYARD_PY_BINDINGS to the generated bindings")
class CallFlow(unittest.TestCase):
    def setUp(self):
        fresh("call-flow")
        self.flow = importlib.import_module("switchyard.flow")
        self.ft = importlib.import_module("wit_world.imports.flow_types")

    def test_builders_make_the_wit_records(self):
        flow, ft = self.flow, self.ft
        d = flow.decide([flow.answer(), flow.play("hi"), flow.dial(flow.ext("1001"), ring_timeout=20),
                         flow.reject("busy")], state={"a": 1})
        self.assertEqual(d.state, b'{"a":1}')
        self.assertEqual(d.actions[1], ft.Action_Play([ft.Prompt_Say("hi")]))
        self.assertEqual(d.actions[2].value.targets, [ft.DialTarget_Extension("1001")])
        self.assertEqual(d.actions[3], ft.Action_Reject(ft.RejectReason.BUSY))

    def test_event_names(self):
        self.assertEqual(self.flow.event_name(self.ft.Event_CallStarted()), "call-started")
        self.assertEqual(self.flow.event_name(self.ft.Event_QueueFinished(None)), "queue-finished")

    def test_plugin_errors_become_err(self):
        flow = self.flow
        Err = importlib.import_module("componentize_py_types").Err
        PluginError = importlib.import_module("switchyard").PluginError

        class F(flow.CallFlow):
            def handle(self, call, event, state):
                raise PluginError("no agent configured")

        with self.assertRaises(Err) as e:
            F().handle(None, None, None)
        self.assertEqual(e.exception.value, "no agent configured")


if __name__ == "__main__":
    unittest.main()
