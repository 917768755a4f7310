//! Credentials for a registry host, and where they came from (named in errors; the secret never
//! is): `PROVISIONING_REGISTRY_TOKEN`, `PROVISIONING_REGISTRY_USERNAME`/`_PASSWORD`, then docker's
//! `config.json` (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`) as `docker login`
//! leaves it: `auths`, and the `credsStore`/`credHelpers` helpers it names. Reading that file is
//! the `docker_credential` crate's job; this module only decides where to look, from the
//! command's environment.

use std::collections::BTreeMap;
use std::path::Path;

use docker_credential::DockerCredential;
use oci_client::secrets::RegistryAuth;

/// Credentials for a host, and where they came from. A `config.json` that is there but cannot
/// be read (not a regular file, larger than its bound) is an error, not anonymous access.
pub fn credentials(
    env: &BTreeMap<String, String>,
    host: &str,
) -> std::io::Result<(RegistryAuth, String)> {
    if let Some(token) = env
        .get("PROVISIONING_REGISTRY_TOKEN")
        .filter(|t| !t.is_empty())
    {
        return Ok((
            RegistryAuth::Bearer(token.clone()),
            "`PROVISIONING_REGISTRY_TOKEN`".into(),
        ));
    }
    if let (Some(user), Some(password)) = (
        env.get("PROVISIONING_REGISTRY_USERNAME"),
        env.get("PROVISIONING_REGISTRY_PASSWORD"),
    ) {
        return Ok((
            RegistryAuth::Basic(user.clone(), password.clone()),
            "`PROVISIONING_REGISTRY_USERNAME`/`PROVISIONING_REGISTRY_PASSWORD`".into(),
        ));
    }
    let config = env
        .get("DOCKER_CONFIG")
        .map(|dir| Path::new(dir).join("config.json"))
        .or_else(|| {
            env.get("HOME")
                .map(|home| Path::new(home).join(".docker/config.json"))
        });
    if let Some(path) = config
        && let Some(auth) = docker_credentials(&path, host)?
    {
        return Ok((auth, format!("`{}`", path.display())));
    }
    Ok((RegistryAuth::Anonymous, "no credentials (anonymous)".into()))
}

/// What docker's `config.json` at `path` holds for `host`, through a credential helper when it
/// names one. An identity token is sent as a bearer token.
fn docker_credentials(path: &Path, host: &str) -> std::io::Result<Option<RegistryAuth>> {
    let bytes = match crate::fs::read(path, crate::fs::FileKind::Credentials) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let Ok(credential) = docker_credential::get_credential_from_reader(bytes.as_slice(), host)
    else {
        return Ok(None);
    };
    Ok(Some(match credential {
        DockerCredential::UsernamePassword(user, password) => RegistryAuth::Basic(user, password),
        DockerCredential::IdentityToken(token) => RegistryAuth::Bearer(token),
    }))
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // test fixtures are written directly
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_env_then_docker_config_and_name_their_source() {
        let dir = tempfile::tempdir().expect("temp dir");
        let auth = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "ci:s3cret");
        std::fs::write(
            dir.path().join("config.json"),
            format!("{{\"auths\": {{\"registry.example:5000\": {{\"auth\": \"{auth}\"}}}}}}"),
        )
        .expect("write");
        let mut env: BTreeMap<String, String> =
            [("DOCKER_CONFIG".to_owned(), dir.path().display().to_string())].into();
        let (found, source) = credentials(&env, "registry.example:5000").expect("reads");
        assert!(matches!(found, RegistryAuth::Basic(ref u, ref p) if u == "ci" && p == "s3cret"));
        assert!(source.contains("config.json") && !source.contains("s3cret"));
        let (anonymous, _) = credentials(&env, "other.example").expect("reads");
        assert!(matches!(anonymous, RegistryAuth::Anonymous));
        env.insert("PROVISIONING_REGISTRY_TOKEN".into(), "t0ken".into());
        let (token, source) = credentials(&env, "registry.example:5000").expect("reads");
        assert!(matches!(token, RegistryAuth::Bearer(ref t) if t == "t0ken"));
        assert_eq!(source, "`PROVISIONING_REGISTRY_TOKEN`");
    }
}
