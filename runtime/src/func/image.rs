//! Container image references (`ghcr.io/org/app:1.2@sha256:...`), split as
//! Docker splits them, with Docker Hub's defaults.

use std::borrow::Cow;

/// The parts of an image reference.
#[derive(Clone, Debug, PartialEq)]
pub struct Image<'s> {
    /// `docker.io` when the reference names none.
    pub registry: &'s str,
    /// The path below the registry; a one-part Docker Hub name is an
    /// official image, `library/NAME`.
    pub repository: Cow<'s, str>,
    /// `latest` when neither a tag nor a digest is written; `None` when
    /// only a digest is.
    pub tag: Option<&'s str>,
    /// `algorithm:hex`, as written after `@`.
    pub digest: Option<&'s str>,
}

const DOCKER_HUB: &str = "docker.io";

impl<'s> Image<'s> {
    /// Reads `[REGISTRY/]PATH[:TAG][@DIGEST]`. The first `/`-separated
    /// component is the registry when it has a `.` or a `:` (a port), is
    /// `localhost`, or has an upper-case letter (Docker's rule: repository
    /// paths are lower case); `index.docker.io` is Docker Hub.
    /// `None` for text that is no reference: empty, with white space, an
    /// empty path component, tag or digest part.
    pub fn parse(s: &'s str) -> Option<Image<'s>> {
        if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => {
                let (alg, hex) = d.split_once(':')?;
                if alg.is_empty() || hex.is_empty() {
                    return None;
                }
                (rest, Some(d))
            }
            None => (s, None),
        };
        // A `:` after the last `/` starts the tag; one before it is a port.
        let slash = rest.rfind('/');
        let (name, tag) = match rest.rfind(':') {
            Some(c) if slash.is_none_or(|sl| c > sl) => (&rest[..c], Some(&rest[c + 1..])),
            _ => (rest, None),
        };
        if tag == Some("") {
            return None;
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (first, path)
            }
            _ => (DOCKER_HUB, name),
        };
        let registry = if registry == "index.docker.io" {
            DOCKER_HUB
        } else {
            registry
        };
        if path.split('/').any(str::is_empty) {
            return None;
        }
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            Cow::Owned(format!("library/{path}"))
        } else {
            Cow::Borrowed(path)
        };
        let tag = match (tag, digest) {
            (None, None) => Some("latest"),
            (tag, _) => tag,
        };
        Some(Image {
            registry,
            repository,
            tag,
            digest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (registry, repository, tag, digest) of `s`.
    fn parts(s: &str) -> Option<(String, String, Option<String>, Option<String>)> {
        let i = Image::parse(s)?;
        Some((
            i.registry.to_string(),
            i.repository.to_string(),
            i.tag.map(str::to_string),
            i.digest.map(str::to_string),
        ))
    }

    fn want(
        r: &str,
        p: &str,
        t: Option<&str>,
        d: Option<&str>,
    ) -> Option<(String, String, Option<String>, Option<String>)> {
        Some((
            r.into(),
            p.into(),
            t.map(str::to_string),
            d.map(str::to_string),
        ))
    }

    const SHA: &str = "sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac";

    #[test]
    fn docker_hub_defaults() {
        let hub = |p, t| want("docker.io", p, t, None);
        assert_eq!(parts("nginx"), hub("library/nginx", Some("latest")));
        assert_eq!(parts("nginx:1.25"), hub("library/nginx", Some("1.25")));
        assert_eq!(parts("bitnami/redis"), hub("bitnami/redis", Some("latest")));
        assert_eq!(
            parts("docker.io/nginx"),
            hub("library/nginx", Some("latest"))
        );
        assert_eq!(
            parts("index.docker.io/nginx:x"),
            hub("library/nginx", Some("x"))
        );
        assert_eq!(parts("docker.io/a/b/c:v"), hub("a/b/c", Some("v")));
        // A first component without `.`, `:` or upper case is a path.
        assert_eq!(parts("xmrig/xmrig:6.21"), hub("xmrig/xmrig", Some("6.21")));
        assert_eq!(
            parts("library/busybox"),
            hub("library/busybox", Some("latest"))
        );
    }

    #[test]
    fn registries_ports_and_localhost() {
        assert_eq!(
            parts("ghcr.io/org/app:1.2"),
            want("ghcr.io", "org/app", Some("1.2"), None)
        );
        assert_eq!(
            parts("registry.example.com:5000/team/app"),
            want(
                "registry.example.com:5000",
                "team/app",
                Some("latest"),
                None
            )
        );
        assert_eq!(
            parts("localhost:5000/app:dev"),
            want("localhost:5000", "app", Some("dev"), None)
        );
        assert_eq!(
            parts("localhost/app"),
            want("localhost", "app", Some("latest"), None)
        );
        assert_eq!(
            parts("myhost:8080/app"),
            want("myhost:8080", "app", Some("latest"), None)
        );
        assert_eq!(
            parts("Registry/app"),
            want("Registry", "app", Some("latest"), None)
        );
        assert_eq!(
            parts("123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1"),
            want(
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                "app",
                Some("v1"),
                None
            )
        );
        // No registry in a one-part name: `localhost:5000` is image
        // `localhost` at tag `5000`, as Docker reads it.
        assert_eq!(
            parts("localhost:5000"),
            want("docker.io", "library/localhost", Some("5000"), None)
        );
    }

    #[test]
    fn digests() {
        let with_tag = format!("ghcr.io/a/b:1.2@{SHA}");
        assert_eq!(
            parts(&with_tag),
            want("ghcr.io", "a/b", Some("1.2"), Some(SHA))
        );
        let only = format!("nginx@{SHA}");
        assert_eq!(
            parts(&only),
            want("docker.io", "library/nginx", None, Some(SHA))
        );
        let port = format!("localhost:5000/app@{SHA}");
        assert_eq!(parts(&port), want("localhost:5000", "app", None, Some(SHA)));
    }

    #[test]
    fn malformed_references_are_none() {
        for s in [
            "",
            " nginx",
            "nginx latest",
            "nginx:",
            "nginx@",
            "nginx@sha256",
            "nginx@:abc",
            "nginx@sha256:",
            "ghcr.io/",
            "ghcr.io//app",
            "/app",
            "a//b",
            ":tag",
            "ghcr.io/app/:v1",
        ] {
            assert_eq!(parts(s), None, "{s:?}");
        }
    }
}
