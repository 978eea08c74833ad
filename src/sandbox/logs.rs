//! `GET pods/{name}/log`, so `kubectl logs` works against the sandbox. Its kubelets run no processes, so a
//! container's log is what the simulation knows about it: image, start, end, exit code, and why it ended that way
//! (a sandbox fault or the fail annotation). It says plainly that it is simulated, never imitating a real log.

use serde_json::Value;

use super::controllers::FAIL_ANNOTATION;
use super::status::ApiError;

/// The log text of `container` (or the pod's only container) in `pod`.
pub(crate) fn pod_log(pod: &Value, container: Option<&str>) -> Result<String, ApiError> {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let containers: Vec<&str> = pod["spec"]["containers"]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    let chosen = match container {
        Some(c) if !c.is_empty() => {
            let init = pod["spec"]["initContainers"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|x| x["name"].as_str() == Some(c)));
            if !containers.contains(&c) && !init {
                return Err(ApiError::bad_request(format!("container {c} is not valid for pod {name}")));
            }
            c
        }
        _ => match containers.as_slice() {
            [only] => only,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    containers.join(" ")
                )));
            }
        },
    };
    let spec = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| pod["spec"][k].as_array())
        .flatten()
        .find(|c| c["name"].as_str() == Some(chosen));
    let image = spec.and_then(|c| c["image"].as_str()).unwrap_or("?");
    let status = ["containerStatuses", "initContainerStatuses"]
        .iter()
        .filter_map(|k| pod["status"][k].as_array())
        .flatten()
        .find(|c| c["name"].as_str() == Some(chosen));
    let Some(status) = status else {
        return Err(ApiError::bad_request(format!(
            "container \"{chosen}\" in pod \"{name}\" is waiting to start: the pod is not running yet"
        )));
    };
    let mut out = format!(
        "dbdeck sandbox: container {chosen} (image {image}) is simulated by the sandbox's kubelet; no process ran, \
         so there is no program output.\n"
    );
    let state = &status["state"];
    if let Some(t) = state.get("terminated") {
        let code = t["exitCode"].as_i64().unwrap_or_default();
        out.push_str(&format!(
            "started {}, ended {} with exit code {code} ({})\n",
            t["startedAt"].as_str().unwrap_or("?"),
            t["finishedAt"].as_str().unwrap_or("?"),
            t["reason"].as_str().unwrap_or("?"),
        ));
        let failed_on_purpose = pod["metadata"]["annotations"][FAIL_ANNOTATION].as_str() == Some("true");
        if code != 0 && failed_on_purpose {
            out.push_str(&format!(
                "it failed because the pod carries {FAIL_ANNOTATION}=\"true\" (a sandbox fault, or the pod template asked for it)\n"
            ));
        } else if code == 137 {
            out.push_str("it was killed by a sandbox fault (pod kill); the kubelet restarts it\n");
        }
    } else if let Some(r) = state.get("running") {
        out.push_str(&format!("running since {}\n", r["startedAt"].as_str().unwrap_or("?")));
    } else if let Some(w) = state.get("waiting") {
        out.push_str(&format!("waiting: {}\n", w["reason"].as_str().unwrap_or("?")));
    }
    let restarts = status["restartCount"].as_i64().unwrap_or_default();
    if restarts > 0 {
        out.push_str(&format!("restarted {restarts} time(s)\n"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(annotations: Value, state: Value) -> Value {
        json!({
            "metadata": {"name": "xb-1", "annotations": annotations},
            "spec": {"containers": [{"name": "xtrabackup", "image": "percona/percona-xtrabackup:8.4.0-5.1"}]},
            "status": {"containerStatuses": [{"name": "xtrabackup", "restartCount": 0, "state": state}]}
        })
    }

    #[test]
    fn a_failed_job_pod_says_it_was_simulated_and_why_it_failed() {
        let p = pod(
            json!({FAIL_ANNOTATION: "true"}),
            json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "a", "finishedAt": "b"}}),
        );
        let log = pod_log(&p, None).unwrap();
        assert!(log.contains("simulated") && log.contains("percona/percona-xtrabackup:8.4.0-5.1"), "{log}");
        assert!(log.contains("exit code 1 (Error)") && log.contains(FAIL_ANNOTATION), "{log}");
    }

    #[test]
    fn wrong_or_missing_container_names_are_refused_like_the_api_server_does() {
        let p = pod(json!({}), json!({"running": {"startedAt": "a"}}));
        assert!(pod_log(&p, Some("xtrabackup")).unwrap().contains("running since a"));
        let e = pod_log(&p, Some("nope")).unwrap_err();
        assert!(e.to_string().contains("container nope is not valid for pod xb-1"), "{e}");
        let mut two = p.clone();
        two["spec"]["containers"] = json!([{"name": "a"}, {"name": "b"}]);
        let e = pod_log(&two, None).unwrap_err();
        assert!(e.to_string().contains("choose one of: [a b]"), "{e}");
    }
}
