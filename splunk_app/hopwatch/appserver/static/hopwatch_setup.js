/*
 * hopwatch setup page: stores the hopwatch API URL and key in Splunk's secure
 * storage (storage/passwords, realm "hopwatch", user "api", password
 * {"url": ..., "key": ...}), the TLS options in hopwatch.conf [api], and marks
 * the app configured. Every call goes through Splunk Web's splunkd proxy with
 * the user's session and CSRF form key. The key is never shown, logged or
 * written anywhere else; text from the server is inserted with textContent only.
 *
 * The same file runs in Node for the tests (module.exports): there `start` is
 * not called and `fetch` is passed in.
 */
(function (root, factory) {
    "use strict";
    var api = factory();
    if (typeof module === "object" && module.exports) {
        module.exports = api;
    } else if (typeof require === "function" && typeof define === "function") {
        require(["splunkjs/mvc/simplexml/ready!"], function () {
            api.start(root);
        });
    } else {
        api.start(root);
    }
})(this, function () {
    "use strict";
    var APP = "hopwatch";
    var REALM = "hopwatch";
    var USER = "api";
    var CREDENTIAL = encodeURIComponent(REALM + ":" + USER + ":");

    function splunkdBase(win) {
        var c = win.$C || {};
        return (c.MRSPARKLE_ROOT_PATH || "") + "/" + (c.LOCALE || "en-US") +
            "/splunkd/__raw/servicesNS/nobody/" + APP + "/";
    }

    function formKey(win) {
        var port = (win.$C || {}).MRSPARKLE_PORT_NUMBER;
        var prefix = "splunkweb_csrf_token_" + port + "=";
        var parts = String(win.document.cookie || "").split(";");
        for (var i = 0; i < parts.length; i++) {
            var part = parts[i].trim();
            if (part.indexOf(prefix) === 0) {
                return decodeURIComponent(part.slice(prefix.length));
            }
        }
        return "";
    }

    function encode(fields) {
        return Object.keys(fields).map(function (k) {
            return encodeURIComponent(k) + "=" + encodeURIComponent(fields[k]);
        }).join("&");
    }

    /* GET and POST (form-encoded) against splunkd, JSON answers; errors name the call. */
    function makeClient(fetchFn, base, csrf) {
        function call(method, path, fields) {
            var init = {
                method: method,
                credentials: "same-origin",
                headers: {"X-Requested-With": "XMLHttpRequest", "X-Splunk-Form-Key": csrf || ""}
            };
            if (fields) {
                init.headers["Content-Type"] = "application/x-www-form-urlencoded";
                init.body = encode(fields);
            }
            var sep = path.indexOf("?") < 0 ? "?" : "&";
            return fetchFn(base + path + sep + "output_mode=json", init).then(function (res) {
                if (res.status === 404 && method === "GET") {
                    return null;
                }
                if (!res.ok) {
                    return res.text().then(function (text) {
                        var detail = "";
                        try {
                            detail = JSON.parse(text).messages[0].text;
                        } catch (e) {
                            detail = "";
                        }
                        throw new Error(method + " " + path.split("?")[0] + ": HTTP " +
                            res.status + (detail ? " (" + detail + ")" : ""));
                    });
                }
                return res.json();
            });
        }
        return {
            get: function (path) { return call("GET", path); },
            post: function (path, fields) { return call("POST", path, fields); }
        };
    }

    function content(answer) {
        return answer && answer.entry && answer.entry.length ? answer.entry[0].content : null;
    }

    /* What is stored now: {url, hasKey, verifyTls, caFile} (the key itself is not returned). */
    function load(client) {
        return Promise.all([
            client.get("storage/passwords/" + CREDENTIAL),
            client.get("configs/conf-hopwatch/api")
        ]).then(function (answers) {
            var secret = content(answers[0]);
            var conf = content(answers[1]) || {};
            var stored = {};
            try {
                stored = secret ? JSON.parse(secret.clear_password) : {};
            } catch (e) {
                stored = {};
            }
            var verify = String(conf.verify_tls === undefined ? "true" : conf.verify_tls);
            return {
                url: stored.url || "",
                hasKey: Boolean(stored.key),
                storedKey: stored.key || "",
                verifyTls: ["0", "false", "f", "no", "n", "off"].indexOf(verify.toLowerCase()) < 0,
                caFile: conf.ca_file || ""
            };
        });
    }

    /* An error message, or "" when the values can be saved. */
    function validate(values, hasKey) {
        var url = String(values.url || "").trim();
        if (!/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(url)) {
            return "The API URL must start with http:// or https:// and name a host.";
        }
        if (!values.key && !hasKey) {
            return "Enter an API key (hopwatch apikey create --name splunk --scope write).";
        }
        if (values.key && !/^[\x21-\x7e]{8,512}$/.test(values.key)) {
            return "The API key must be 8 to 512 printable characters without spaces.";
        }
        return "";
    }

    /* Store the URL and key (a new key, or the stored one kept), the TLS options, and
       mark the app configured. */
    function save(client, values, current) {
        var error = validate(values, current.hasKey);
        if (error) {
            return Promise.reject(new Error(error));
        }
        var secret = JSON.stringify({
            url: String(values.url).trim().replace(/\/+$/, ""),
            key: values.key || current.storedKey
        });
        return client.get("storage/passwords/" + CREDENTIAL).then(function (existing) {
            if (existing) {
                return client.post("storage/passwords/" + CREDENTIAL, {password: secret});
            }
            return client.post("storage/passwords", {name: USER, realm: REALM, password: secret});
        }).then(function () {
            return client.post("configs/conf-hopwatch/api", {
                verify_tls: values.verifyTls ? "true" : "false",
                ca_file: String(values.caFile || "").trim()
            });
        }).then(function () {
            return client.post("apps/local/" + APP, {configured: "true"});
        });
    }

    function start(win) {
        var doc = win.document;
        var el = function (id) { return doc.getElementById(id); };
        var status = el("hopwatch-status");
        var client = makeClient(win.fetch.bind(win), splunkdBase(win), formKey(win));
        var current = {hasKey: false, storedKey: ""};
        function show(text, isError) {
            status.textContent = text;
            status.className = isError ? "hopwatch-error" : "hopwatch-help";
        }
        load(client).then(function (stored) {
            current = stored;
            el("hopwatch-url").value = stored.url;
            el("hopwatch-verify").checked = stored.verifyTls;
            el("hopwatch-ca").value = stored.caFile;
            el("hopwatch-key-state").textContent = stored.hasKey
                ? "A key is stored; leave the field empty to keep it."
                : "No key is stored yet.";
        }).catch(function (err) {
            show("Could not read the stored settings: " + err.message, true);
        });
        el("hopwatch-save").addEventListener("click", function () {
            var values = {
                url: el("hopwatch-url").value,
                key: el("hopwatch-key").value,
                verifyTls: el("hopwatch-verify").checked,
                caFile: el("hopwatch-ca").value
            };
            if (!values.verifyTls && /^https:/.test(values.url) &&
                    !win.confirm("Turn off TLS certificate verification for the hopwatch API?")) {
                return;
            }
            show("Saving...", false);
            save(client, values, current).then(function () {
                el("hopwatch-key").value = "";
                show("Saved. The hopwatch commands and dashboards use these settings now.", false);
                return load(client).then(function (stored) { current = stored; });
            }).catch(function (err) {
                show("Not saved: " + err.message, true);
            });
        });
    }

    return {
        makeClient: makeClient,
        load: load,
        save: save,
        validate: validate,
        start: start,
        REALM: REALM,
        USER: USER
    };
});
