using System.Net;
using k8s.Autorest;

namespace Gadget.Kubernetes;

/// <summary>The one place where Kubernetes API failures become <see cref="GadgetException"/>s.</summary>
internal static class KubeErrors
{
    /// <summary>
    /// A failed API call. <paramref name="permission"/> names what the call needs, as RBAC spells
    /// it ("create pods/portforward in namespace gadget"), for the PermissionDenied message.
    /// </summary>
    public static GadgetException ToGadgetException(Exception exception, string permission, string server)
    {
        if (IsTimeout(exception))
        {
            return new GadgetException(GadgetErrorId.KubeRequestTimeout, GadgetErrorKind.Timeout,
                $"The Kubernetes API server at {server} did not answer in time while Gadget tried to {permission}: {exception.Message}", exception)
            {
                RecommendedAction = $"Check that {server} is reachable from here and healthy (kubectl get --raw /readyz). Each request waits {RequestDeadline.Value.TotalSeconds:0} s; ${RequestDeadline.Variable} (seconds) changes that.",
            };
        }

        HttpStatusCode? status = StatusOf(exception);
        string detail = DetailOf(exception);
        return status switch
        {
            HttpStatusCode.Unauthorized => new GadgetException(GadgetErrorId.KubeUnauthorized, GadgetErrorKind.PermissionDenied,
                $"The Kubernetes API server at {server} did not accept the credentials of the kubeconfig (401 Unauthorized): {detail}", exception)
            {
                RecommendedAction = "Refresh the credentials (for AKS: az aks get-credentials, or kubelogin) or pass another -KubeConfig/-Context.",
            },
            HttpStatusCode.Forbidden => new GadgetException(GadgetErrorId.KubeForbidden, GadgetErrorKind.PermissionDenied,
                $"Permission denied: Gadget needs to {permission}, which the Kubernetes API server refused (403 Forbidden): {detail}", exception)
            {
                RecommendedAction = $"Ask a cluster administrator for RBAC that allows you to {permission} (Gadget's Role gadget-user grants what tracing needs).",
            },
            HttpStatusCode.NotFound => new GadgetException(GadgetErrorId.KubeNotFound, GadgetErrorKind.NotFound,
                $"Not found while trying to {permission}: {detail}", exception),
            _ => new GadgetException(GadgetErrorId.KubeRequestFailed, status is null ? GadgetErrorKind.Connection : GadgetErrorKind.Failure,
                $"The Kubernetes API server at {server} failed to {permission}{(status is null ? string.Empty : $" ({(int)status} {status})")}: {detail}", exception),
        };
    }

    /// <summary>A request deadline passed: ours (a TimeoutException) or HttpClient's (a cancellation nobody asked for).</summary>
    private static bool IsTimeout(Exception exception)
    {
        for (Exception? current = exception; current is not null; current = current.InnerException)
        {
            if (current is TimeoutException or OperationCanceledException)
            {
                return true;
            }
        }

        return false;
    }

    public static HttpStatusCode? StatusOf(Exception exception)
    {
        for (Exception? current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case HttpOperationException operation when operation.Response is not null:
                    return operation.Response.StatusCode;
                case HttpRequestException { StatusCode: HttpStatusCode code }:
                    return code;
            }
        }

        return null;
    }

    private static string DetailOf(Exception exception)
    {
        for (Exception? current = exception; current is not null; current = current.InnerException)
        {
            if (current is HttpOperationException { Response.Content: { Length: > 0 } content })
            {
                try
                {
                    k8s.Models.V1Status? status = k8s.KubernetesJson.Deserialize<k8s.Models.V1Status>(content);
                    if (!string.IsNullOrEmpty(status?.Message))
                    {
                        return status.Message;
                    }
                }
                catch (System.Text.Json.JsonException)
                {
                    // Not a Status object: the raw text below.
                }

                return content.Length > 500 ? content[..500] : content;
            }
        }

        return exception.Message;
    }
}
