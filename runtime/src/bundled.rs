//! The bundled rule library (`rules/`), embedded so `ward scan` works with
//! no `--rules`. A test keeps this list equal to the files in `rules/`.

pub const RULES: &[(&str, &str)] = &[
    (
        "rules/aws/console.ward",
        include_str!("../../rules/aws/console.ward"),
    ),
    (
        "rules/aws/eks.ward",
        include_str!("../../rules/aws/eks.ward"),
    ),
    (
        "rules/calico/flows.ward",
        include_str!("../../rules/calico/flows.ward"),
    ),
    (
        "rules/k8s/access.ward",
        include_str!("../../rules/k8s/access.ward"),
    ),
    (
        "rules/k8s/correlation.ward",
        include_str!("../../rules/k8s/correlation.ward"),
    ),
    (
        "rules/k8s/lists.ward",
        include_str!("../../rules/k8s/lists.ward"),
    ),
    (
        "rules/k8s/pods.ward",
        include_str!("../../rules/k8s/pods.ward"),
    ),
    (
        "rules/k8s/rbac.ward",
        include_str!("../../rules/k8s/rbac.ward"),
    ),
];
