//! CloudTrail records.

use super::*;

/// CloudTrail records, one JSON document per string.
pub fn cloudtrail_records(n: usize, seed: u64) -> Vec<String> {
    let mut g = Trail {
        r: Rng::new(!seed),
        now: START_US / 1_000_000,
    };
    (0..n).map(|_| text(&g.record())).collect()
}

// ---- CloudTrail ---------------------------------------------------------------

const CT_MIX: &[(u32, &str)] = &[
    (90, "sts:AssumeRole"),
    (60, "sts:AssumeRoleWithWebIdentity"),
    (50, "sts:GetCallerIdentity"),
    (150, "s3:GetObject"),
    (60, "s3:PutObject"),
    (15, "s3:ListBuckets"),
    (90, "ec2:DescribeInstances"),
    (10, "ec2:RunInstances"),
    (6, "iam:CreateUser"),
    (5, "iam:AttachUserPolicy"),
    (6, "iam:CreateAccessKey"),
    (3, "eks:CreateCluster"),
    (6, "eks:UpdateClusterConfig"),
    (60, "eks:DescribeCluster"),
    (5, "eks:CreateAccessEntry"),
    (5, "eks:AssociateAccessPolicy"),
    (30, "eks:ListClusters"),
    (30, "signin:ConsoleLogin"),
    (120, "kms:Decrypt"),
    (1, "cloudtrail:StopLogging"),
];
/// (role, session, kind): h a person through SSO, c CI, e an EC2 instance, w a pod (IRSA).
const CT_ROLES: &[(&str, &str, char)] = &[
    (
        "AWSReservedSSO_AdministratorAccess_6f2c3b1a9e8d7c45",
        "alice@example.com",
        'h',
    ),
    ("github-actions-deployer", "GitHubActions", 'c'),
    ("eks-node-group-role", "i-0a1b2c3d4e5f60718", 'e'),
    ("s3-reader-irsa", "botocore-session-1717405123", 'w'),
];
const CT_AGENTS: &[&str] = &[
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off",
    "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.79 md/arch#x86_64 lang/python#3.12.2 Botocore/1.34.69",
    "Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.42.0",
];
const OIDC: &str = "oidc.eks.us-east-1.amazonaws.com/id/5C1D8E3F9A2B4C6D8E0F1A2B3C4D5E6F";
const BROWSER: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

struct Trail {
    r: Rng,
    now: i64,
}

/// Who made a CloudTrail call, and from where.
struct Actor {
    id: Value,
    arn: String,
    ip: String,
    agent: String,
    service: bool,
}

impl Trail {
    fn actor(&mut self, name: &str) -> Actor {
        let r = &mut self.r;
        let kind = match name {
            "AssumeRoleWithWebIdentity" => "WebIdentityUser",
            "ConsoleLogin" => r.weighted(&[(85, "IAMUser"), (15, "Root")]),
            "AssumeRole" => r.weighted(&[(45, "AWSService"), (35, "AssumedRole"), (20, "IAMUser")]),
            "Decrypt" => r.weighted(&[(35, "AWSService"), (65, "AssumedRole")]),
            _ => r.weighted(&[(70, "AssumedRole"), (28, "IAMUser"), (2, "Root")]),
        };
        let console = name == "ConsoleLogin";
        let ip = if r.odds(150) {
            r.private_ip()
        } else {
            r.public_ip()
        };
        let agent = if console {
            BROWSER.to_string()
        } else {
            r.pick(CT_AGENTS).to_string()
        };
        let key = |prefix: &str, of: &str| {
            if console {
                String::new()
            } else {
                format!("{prefix}{}", Rng::of(of).upper(16))
            }
        };
        let person = |id: Value, arn: String| Actor {
            id,
            arn,
            ip: ip.clone(),
            agent: agent.clone(),
            service: false,
        };
        match kind {
            "AWSService" => {
                let by = if name == "Decrypt" {
                    "secretsmanager.amazonaws.com"
                } else {
                    r.pick(&["eks.amazonaws.com", "ec2.amazonaws.com"])
                };
                let from = if name == "Decrypt" {
                    "AWS Internal"
                } else {
                    by
                };
                Actor {
                    id: json!({"type": "AWSService", "invokedBy": by}),
                    arn: by.into(),
                    ip: from.into(),
                    agent: by.into(),
                    service: true,
                }
            }
            "WebIdentityUser" => {
                let (ns, sa) = r.pick(&[
                    ("kube-system", "ebs-csi-controller-sa"),
                    ("payments", "payments-api"),
                    ("kube-system", "aws-load-balancer-controller"),
                ]);
                let (provider, user) = (
                    format!("arn:aws:iam::{ACCT}:oidc-provider/{OIDC}"),
                    format!("system:serviceaccount:{ns}:{sa}"),
                );
                let pid = format!("{provider}:sts.amazonaws.com:{user}");
                person(
                    json!({"type": "WebIdentityUser", "principalId": pid, "userName": user, "identityProvider": provider}),
                    user,
                )
            }
            "Root" => {
                let arn = format!("arn:aws:iam::{ACCT}:root");
                person(
                    json!({"type": "Root", "principalId": ACCT, "arn": arn, "accountId": ACCT, "accessKeyId": key("AKIA", "root")}),
                    arn,
                )
            }
            "IAMUser" => {
                let user = r.pick(&["deploy-bot", "alice", "legacy-backup", "terraform-ci"]);
                let arn = format!("arn:aws:iam::{ACCT}:user/{user}");
                let pid = format!("AIDA{}", Rng::of(&arn).upper(17));
                person(
                    json!({"type": "IAMUser", "principalId": pid, "arn": arn, "accountId": ACCT, "accessKeyId": key("AKIA", user), "userName": user}),
                    arn,
                )
            }
            _ => {
                let (role, session, k) = r.pick(CT_ROLES);
                let (role_arn, role_id) = (
                    format!("arn:aws:iam::{ACCT}:role/{role}"),
                    format!("AROA{}", Rng::of(role).upper(17)),
                );
                let arn = format!("arn:aws:sts::{ACCT}:assumed-role/{role}/{session}");
                let created = stamp((self.now - r.range(60, 3600) as i64) * 1_000_000, false);
                let web = if k == 'w' {
                    json!({"federatedProvider": format!("arn:aws:iam::{ACCT}:oidc-provider/{OIDC}"), "attributes": {}})
                } else {
                    json!({})
                };
                let ctx = compact(
                    json!({"sessionIssuer": {"type": "Role", "principalId": role_id, "arn": role_arn, "accountId": ACCT, "userName": role},
                    "webIdFederationData": web, "attributes": {"creationDate": created, "mfaAuthenticated": "false"},
                    "ec2RoleDelivery": (k == 'e').then_some("2.0")}),
                );
                let id = json!({"type": "AssumedRole", "principalId": format!("{role_id}:{session}"), "arn": arn, "accountId": ACCT,
                    "accessKeyId": key("ASIA", session), "sessionContext": ctx});
                person(id, arn)
            }
        }
    }

    /// requestParameters, responseElements and resources plausible for the call.
    fn params(&mut self, name: &str, region: &str, caller: &str) -> (Value, Value, Option<Value>) {
        let (r, now) = (&mut self.r, self.now);
        let cluster = format!("arn:aws:eks:{region}:{ACCT}:cluster/prod-eks");
        let role_name = r.pick(&[
            "s3-reader-irsa",
            "ebs-csi-driver-irsa",
            "OrganizationAccountAccessRole",
        ]);
        let role = format!("arn:aws:iam::{ACCT}:role/{role_name}");
        let session = format!("botocore-session-{}", now - 30);
        let creds = json!({"accessKeyId": format!("ASIA{}", r.upper(16)), "sessionToken": format!("IQoJb3JpZ2luX2VjE{}", r.upper(40)),
            "expiration": stamp((now + 3600) * 1_000_000, false)});
        let assumed = json!({"assumedRoleId": format!("AROA{}:{session}", r.upper(17)), "arn": format!("arn:aws:sts::{ACCT}:assumed-role/{role_name}/{session}")});
        let (bucket, key) = (
            r.pick(&[
                "acme-prod-artifacts",
                "acme-logs-123456789012",
                "acme-customer-exports",
            ]),
            format!("exports/2024/06/{}.json", r.hex(12)),
        );
        let principal = format!(
            "arn:aws:iam::{ACCT}:role/{}",
            r.pick(&["DevOps", "github-actions-deployer", "ExternalContractor"])
        );
        let user = r.pick(&["svc-backup", "temp-admin", "ci-runner"]);
        let one = |arn: &str, ty: &str| Some(json!([{"ARN": arn, "accountId": ACCT, "type": ty}]));
        let null = Value::Null;
        match name {
            "AssumeRole" => (
                json!({"roleArn": role, "roleSessionName": session, "durationSeconds": 3600}),
                json!({"credentials": creds, "assumedRoleUser": assumed}),
                one(&role, "AWS::IAM::Role"),
            ),
            "AssumeRoleWithWebIdentity" => (
                json!({"roleArn": role, "roleSessionName": session, "durationSeconds": 86400}),
                json!({"credentials": creds, "subjectFromWebIdentityToken": caller, "audience": "sts.amazonaws.com",
                    "provider": format!("arn:aws:iam::{ACCT}:oidc-provider/{OIDC}"), "assumedRoleUser": assumed}),
                one(&role, "AWS::IAM::Role"),
            ),
            "GetObject" | "PutObject" => (
                json!({"bucketName": bucket, "Host": format!("{bucket}.s3.{region}.amazonaws.com"), "key": key}),
                null,
                Some(
                    json!([{"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{key}")},
                    {"accountId": ACCT, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}]),
                ),
            ),
            "ListBuckets" => (json!({"Host": "s3.amazonaws.com"}), null, None),
            "DescribeInstances" => (
                json!({"instancesSet": {}, "filterSet": {"items": [{"name": "instance-state-name", "valueSet": {"items": [{"value": "running"}]}}]}}),
                null,
                None,
            ),
            "RunInstances" => {
                let (ami, ty) = (
                    format!("ami-0{}", r.hex(16)),
                    r.weighted(&[(90, "t3.medium"), (10, "p3.16xlarge")]),
                );
                let item = json!({"instanceId": format!("i-0{}", r.hex(16)), "imageId": ami, "instanceState": {"code": 0, "name": "pending"}, "instanceType": ty});
                (
                    json!({"instancesSet": {"items": [{"imageId": ami, "minCount": 1, "maxCount": 1}]}, "instanceType": ty, "monitoring": {"enabled": false}}),
                    json!({"reservationId": format!("r-0{}", r.hex(16)), "ownerId": ACCT, "instancesSet": {"items": [item]}}),
                    None,
                )
            }
            "CreateUser" => (
                json!({"userName": user}),
                json!({"user": {"path": "/", "userName": user, "userId": format!("AIDA{}", r.upper(17)),
                "arn": format!("arn:aws:iam::{ACCT}:user/{user}"), "createDate": stamp(now * 1_000_000, false)}}),
                None,
            ),
            "CreateAccessKey" => (
                json!({"userName": user}),
                json!({"accessKey": {"userName": user, "accessKeyId": format!("AKIA{}", r.upper(16)),
                "status": "Active", "createDate": stamp(now * 1_000_000, false)}}),
                None,
            ),
            "AttachUserPolicy" => (
                json!({"userName": user, "policyArn": format!("arn:aws:iam::aws:policy/{}", r.pick(&["AdministratorAccess", "ReadOnlyAccess"]))}),
                null,
                None,
            ),
            "CreateCluster" => (
                json!({"name": "prod-eks", "version": "1.29", "roleArn": format!("arn:aws:iam::{ACCT}:role/eks-cluster-role"),
                    "resourcesVpcConfig": {"subnetIds": ["subnet-0a670c2df1e2d3c4b", "subnet-04f8c50041a2b3c4d"], "endpointPublicAccess": true}}),
                json!({"cluster": {"name": "prod-eks", "arn": cluster, "createdAt": now as f64 + 0.208, "version": "1.29", "status": "CREATING"}}),
                one(&cluster, "AWS::EKS::Cluster"),
            ),
            "UpdateClusterConfig" => {
                let public = r.odds(500);
                let req = if public {
                    json!({"name": "prod-eks", "resourcesVpcConfig": {"endpointPublicAccess": true, "publicAccessCidrs": ["0.0.0.0/0"]}})
                } else {
                    json!({"name": "prod-eks", "logging": {"clusterLogging": [{"types": ["api", "audit", "authenticator"], "enabled": r.odds(500)}]}})
                };
                let ty = if public {
                    "EndpointAccessUpdate"
                } else {
                    "LoggingUpdate"
                };
                (
                    req,
                    json!({"update": {"id": r.uuid(), "status": "InProgress", "type": ty, "params": [], "createdAt": now as f64, "errors": []}}),
                    one(&cluster, "AWS::EKS::Cluster"),
                )
            }
            "DescribeCluster" => (
                json!({"name": "prod-eks"}),
                null,
                one(&cluster, "AWS::EKS::Cluster"),
            ),
            "CreateAccessEntry" => (
                json!({"clusterName": "prod-eks", "principalArn": principal, "type": "STANDARD"}),
                json!({"accessEntry": {"clusterName": "prod-eks", "principalArn": principal, "kubernetesGroups": [], "username": principal, "type": "STANDARD",
                    "accessEntryArn": format!("arn:aws:eks:{region}:{ACCT}:access-entry/prod-eks/role/{ACCT}/{}", r.uuid())}}),
                one(&cluster, "AWS::EKS::Cluster"),
            ),
            "AssociateAccessPolicy" => {
                let policy = format!(
                    "arn:aws:eks::aws:cluster-access-policy/{}",
                    r.pick(&["AmazonEKSClusterAdminPolicy", "AmazonEKSViewPolicy"])
                );
                let scope = if r.odds(700) {
                    json!({"type": "cluster", "namespaces": []})
                } else {
                    json!({"type": "namespace", "namespaces": ["production"]})
                };
                (
                    json!({"clusterName": "prod-eks", "principalArn": principal, "policyArn": policy, "accessScope": scope}),
                    json!({"clusterName": "prod-eks", "principalArn": principal, "associatedAccessPolicy": {"policyArn": policy, "accessScope": scope, "associatedAt": now as f64}}),
                    one(&cluster, "AWS::EKS::Cluster"),
                )
            }
            "Decrypt" => (
                json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {"SecretARN": format!("arn:aws:secretsmanager:{region}:{ACCT}:secret:prod/db-AbCdEf")}}),
                null,
                one(
                    &format!("arn:aws:kms:{region}:{ACCT}:key/{}", Rng::of(region).uuid()),
                    "AWS::KMS::Key",
                ),
            ),
            "StopLogging" => (
                json!({"name": format!("arn:aws:cloudtrail:{region}:{ACCT}:trail/management-events")}),
                null,
                None,
            ),
            _ => (null.clone(), null, None),
        }
    }

    fn record(&mut self) -> Value {
        self.now += self.r.range(0, 3) as i64;
        let (svc, name) = self
            .r
            .weighted(CT_MIX)
            .split_once(':')
            .unwrap_or(("sts", "GetCallerIdentity"));
        let global = matches!(svc, "iam" | "signin");
        let region = if global {
            "us-east-1"
        } else {
            self.r
                .weighted(&[(70, "us-east-1"), (20, "us-west-2"), (10, "eu-west-1")])
        };
        let a = self.actor(name);
        let (req, mut resp, resources) = self.params(name, region, &a.arn);
        let read_only = ["Get", "Describe", "List", "Assume", "Decrypt"]
            .iter()
            .any(|p| name.starts_with(p));
        let (data, console) = (svc == "s3" && name != "ListBuckets", name == "ConsoleLogin");
        let mut rec = json!({
            "eventVersion": if data { "1.10" } else { "1.09" }, "userIdentity": a.id, "eventTime": stamp(self.now * 1_000_000, false),
            "eventSource": format!("{svc}.amazonaws.com"), "eventName": name, "awsRegion": region, "sourceIPAddress": a.ip,
            "userAgent": a.agent, "requestParameters": req, "responseElements": null,
            "requestID": if svc == "s3" { self.r.upper(16) } else { self.r.uuid() }, "eventID": self.r.uuid(), "readOnly": read_only,
            "eventType": if console { "AwsConsoleSignIn" } else { "AwsApiCall" }, "managementEvent": !data,
            "recipientAccountId": ACCT, "eventCategory": if data { "Data" } else { "Management" },
        });
        if let Some(res) = resources {
            rec["resources"] = res;
        }
        if !a.service {
            let host = match (console, global) {
                (true, _) => "signin.aws.amazon.com".to_string(),
                (_, true) => format!("{svc}.amazonaws.com"),
                _ => format!("{svc}.{region}.amazonaws.com"),
            };
            let (tls, cipher) = self.r.pick(&[
                ("TLSv1.3", "TLS_AES_128_GCM_SHA256"),
                ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"),
            ]);
            rec["tlsDetails"] =
                json!({"tlsVersion": tls, "cipherSuite": cipher, "clientProvidedHostHeader": host});
        }
        if console {
            let ok = self.r.odds(850);
            resp = json!({"ConsoleLogin": if ok { "Success" } else { "Failure" }});
            let mfa = if self.r.odds(600) { "Yes" } else { "No" };
            rec["additionalEventData"] = json!({"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": mfa});
            if !ok {
                rec["errorMessage"] = json!("Failed authentication");
            }
        } else if data {
            rec["additionalEventData"] = json!({"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": 0,
                "bytesTransferredOut": self.r.range(200, 5_000_000), "AuthenticationMethod": "AuthHeader"});
        } else if !a.service && self.r.odds(80) {
            rec["errorCode"] = json!(if svc == "ec2" {
                "Client.UnauthorizedOperation"
            } else {
                "AccessDenied"
            });
            let action = format!("{svc}:{name}");
            rec["errorMessage"] = json!(format!("User: {} is not authorized to perform: {action} because no identity-based policy allows the {action} action", a.arn));
            resp = Value::Null;
        }
        rec["responseElements"] = resp;
        rec
    }
}
