#Requires -Version 7.6
# Cluster mode against the Kubernetes API stub (tests/Gadget.KubeStub, run as a process), with real
# agents behind its port-forwards: the commands a runbook would run, in this fresh pwsh.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:SkipKernel = -not (Test-KernelTracing)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force
    $script:SavedKubeConfig = $env:KUBECONFIG

    function Get-KubeStubPath {
        # $env:GADGET_KUBESTUB_PATH, or the stub project's build output.
        if ($env:GADGET_KUBESTUB_PATH) { return $env:GADGET_KUBESTUB_PATH }
        foreach ($configuration in 'Release', 'Debug') {
            $path = Join-Path $PSScriptRoot "../Gadget.KubeStub/bin/$configuration/net10.0/gadget-kubestub"
            if (Test-Path $path) { return (Resolve-Path $path).ProviderPath }
        }
        throw 'gadget-kubestub is not built (dotnet build Gadget.sln -c Release).'
    }

    function Start-KubeStub {
        # Starts the stub; returns its process, kubeconfig (path and content) and URL.
        param([string[]] $Arguments = @())
        $directory = New-TestDirectory 'gadget-kubestub'
        $kubeconfig = Join-Path $directory 'kubeconfig'
        $process = Start-Process -FilePath (Get-KubeStubPath) -PassThru `
            -ArgumentList (@('--kubeconfig', $kubeconfig, '--context-namespace', 'apps', '--parent-pid', $PID) + $Arguments) `
            -RedirectStandardOutput (Join-Path $directory 'stdout.log') -RedirectStandardError (Join-Path $directory 'stderr.log')
        if (-not (Wait-Condition { $process.HasExited -or (Test-Path $kubeconfig) } -Timeout '00:00:30') -or $process.HasExited) {
            $log = Get-Content (Join-Path $directory 'stderr.log') -Raw -ErrorAction Ignore
            throw "gadget-kubestub did not start. $log"
        }
        $content = Get-Content $kubeconfig -Raw
        [pscustomobject]@{
            Process    = $process
            Directory  = $directory
            KubeConfig = $kubeconfig
            Content    = $content
            Url        = ([regex]::Match($content, 'server: (\S+)')).Groups[1].Value
        }
    }

    function Stop-KubeStub {
        param($Stub)
        if (-not $Stub) { return }
        if (-not $Stub.Process.HasExited) {
            $Stub.Process.Kill()
            $null = $Stub.Process.WaitForExit(10000)
        }
        Remove-Item $Stub.Directory -Recurse -Force -ErrorAction Ignore
    }

    function Invoke-Stub {
        # Reads an object from the stub's API, as kubectl get -o json would; $null when absent.
        param($Stub, [string] $Path)
        try {
            Invoke-RestMethod -Uri "$($Stub.Url)$Path" -Headers @{ Authorization = 'Bearer stub-token' } -TimeoutSec 10
        }
        catch {
            if ($_.Exception.Response.StatusCode -eq 404) { return $null }
            throw
        }
    }

    function Get-FreePort {
        $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
        $listener.Start()
        try { $listener.LocalEndpoint.Port } finally { $listener.Stop() }
    }

    function Start-PodAgent {
        # An agent as it runs in a pod: only on 127.0.0.1:PORT, with its node name.
        param([string] $Node, [string[]] $ExtraArguments = @())
        $port = Get-FreePort
        $directory = New-TestDirectory 'gadget-podagent'
        $process = Start-Process -FilePath (Join-Path $ModulePath 'agent/gadget-agent') -PassThru `
            -ArgumentList (@('--no-socket', '--listen-port', $port, '--node', $Node, '--parent-pid', $PID) + $ExtraArguments) `
            -RedirectStandardOutput (Join-Path $directory 'stdout.log') -RedirectStandardError (Join-Path $directory 'stderr.log')
        $ready = Wait-Condition -Timeout '00:00:30' {
            if ($process.HasExited) { return $true }
            $client = [Net.Sockets.TcpClient]::new()
            try { $client.Connect([Net.IPAddress]::Loopback, $port); $true } catch { $false } finally { $client.Dispose() }
        }
        if (-not $ready -or $process.HasExited) { throw "gadget-agent --node $Node did not listen on $port." }
        [pscustomobject]@{ Process = $process; Socket = $null; Directory = $directory; Port = $port; Node = $Node }
    }
}

AfterAll {
    $env:KUBECONFIG = $script:SavedKubeConfig
}

Describe 'Install-Gadget and Uninstall-Gadget' {
    BeforeAll {
        $script:Stub = $null   # so AfterAll can run when the stub does not start
        $script:Stub = Start-KubeStub -Arguments '--node', 'node-a', '--node', 'node-b'
        $env:KUBECONFIG = $Stub.KubeConfig
    }

    AfterAll {
        Stop-KubeStub $script:Stub
    }

    It 'Get-GadgetVersion says "not installed" before the install' {
        $version = Get-GadgetVersion -ErrorAction Stop
        $version.AgentVersion | Should -BeExactly 'not installed'
        $version.ClientVersion | Should -Not -BeNullOrEmpty
    }

    It '-WhatIf lists every object and applies nothing' {
        # What if: lines go to the host, which a transcript records.
        $transcript = Join-Path $Stub.Directory 'whatif.txt'
        Start-Transcript -Path $transcript | Out-Null
        try { Install-Gadget -WhatIf } finally { Stop-Transcript | Out-Null }
        $output = Get-Content $transcript -Raw
        foreach ($object in 'Namespace gadget', 'ServiceAccount gadget/gadget', 'ClusterRole gadget', 'ClusterRoleBinding gadget', 'Role gadget/gadget-user', 'DaemonSet gadget/gadget') {
            $output | Should -Match ([regex]::Escape($object))
        }
        Invoke-Stub $Stub '/api/v1/namespaces/gadget' | Should -BeNullOrEmpty
        Invoke-Stub $Stub '/apis/apps/v1/namespaces/gadget/daemonsets/gadget' | Should -BeNullOrEmpty
    }

    It 'installs every object with server-side apply, taking the kubeconfig as content' {
        $applied = Install-Gadget -KubeConfig $Stub.Content -Image 'registry.example/gadget-agent:9' -NodeSelector @{ pool = 'sys' } -PassThru -ErrorAction Stop
        @($applied).Count | Should -Be 6
        $applied.Action | Sort-Object -Unique | Should -BeExactly 'Created'
        $daemonSet = Invoke-Stub $Stub '/apis/apps/v1/namespaces/gadget/daemonsets/gadget'
        $pod = $daemonSet.spec.template.spec
        $pod.hostPID | Should -BeTrue
        $pod.containers[0].image | Should -BeExactly 'registry.example/gadget-agent:9'
        $pod.nodeSelector.pool | Should -BeExactly 'sys'
        $pod.nodeSelector.'kubernetes.io/os' | Should -BeExactly 'linux'
        $pod.tolerations[0].operator | Should -BeExactly 'Exists'
        $pod.containers[0].securityContext.privileged | Should -BeFalse
        $pod.containers[0].securityContext.capabilities.add | Should -Contain 'BPF'
        (Invoke-Stub $Stub '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/gadget').subjects[0].namespace | Should -BeExactly 'gadget'
        # The agents watch their node's pods with the service account's token: read pods, nothing else.
        $pod.automountServiceAccountToken | Should -BeTrue
        (Invoke-Stub $Stub '/api/v1/namespaces/gadget/serviceaccounts/gadget').automountServiceAccountToken | Should -BeTrue
        $rules = @((Invoke-Stub $Stub '/apis/rbac.authorization.k8s.io/v1/clusterroles/gadget').rules)
        $rules.Count | Should -Be 1
        $rules[0].resources | Should -BeExactly @('pods')
        $rules[0].verbs | Should -BeExactly @('get', 'list', 'watch')
    }

    It 'a second install with the same parameters changes nothing' {
        $before = (Invoke-Stub $Stub '/apis/apps/v1/namespaces/gadget/daemonsets/gadget').metadata.resourceVersion
        $again = Install-Gadget -Image 'registry.example/gadget-agent:9' -NodeSelector @{ pool = 'sys' } -PassThru -ErrorAction Stop
        $again.Action | Sort-Object -Unique | Should -BeExactly 'Unchanged'
        (Invoke-Stub $Stub '/apis/apps/v1/namespaces/gadget/daemonsets/gadget').metadata.resourceVersion | Should -BeExactly $before
    }

    It 'refuses a second copy in another namespace, with -ErrorAction Stop semantics' {
        $reached = $false
        try {
            Install-Gadget -Namespace tools -ErrorAction Stop
            $reached = $true
        }
        catch {
            $caught = $_
        }
        $reached | Should -BeFalse
        $caught.FullyQualifiedErrorId | Should -BeExactly 'GadgetInstalledElsewhere,Gadget.Commands.InstallGadgetCommand'
        $caught.Exception.Message | Should -Match "'gadget'"
        Invoke-Stub $Stub '/apis/apps/v1/namespaces/tools/daemonsets/gadget' | Should -BeNullOrEmpty
    }

    It '-Wait fails after -Timeout naming the agents that are not ready' {
        $caught = { Install-Gadget -Image 'registry.example/gadget-agent:9' -NodeSelector @{ pool = 'sys' } -Wait -Timeout 2 -ErrorAction Stop } |
            Should -Throw -PassThru
        $caught.FullyQualifiedErrorId | Should -BeExactly 'AgentsNotReadyInTime,Gadget.Commands.InstallGadgetCommand'
        $caught.Exception.Message | Should -Match 'node selector'
    }

    It 'Uninstall-Gadget -WhatIf deletes nothing; -Confirm:$false removes everything' {
        Uninstall-Gadget -WhatIf
        Invoke-Stub $Stub '/apis/apps/v1/namespaces/gadget/daemonsets/gadget' | Should -Not -BeNullOrEmpty
        $removed = Uninstall-Gadget -Confirm:$false -PassThru -ErrorAction Stop
        @($removed).Count | Should -Be 6
        $removed.Action | Sort-Object -Unique | Should -BeExactly 'Deleted'
        Invoke-Stub $Stub '/apis/apps/v1/namespaces/gadget/daemonsets/gadget' | Should -BeNullOrEmpty
        Invoke-Stub $Stub '/api/v1/namespaces/gadget' | Should -BeNullOrEmpty
        Invoke-Stub $Stub '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/gadget' | Should -BeNullOrEmpty
        (Get-GadgetVersion).AgentVersion | Should -BeExactly 'not installed'
    }
}

Describe 'Install-Gadget -Wait with an agent that cannot start' {
    BeforeAll {
        $script:Stub = $null
        $script:Stub = Start-KubeStub -Arguments '--pending-agent', 'node-a=ImagePullBackOff'
    }

    AfterAll {
        Stop-KubeStub $script:Stub
    }

    It 'names the pod and its reason' {
        $caught = { Install-Gadget -KubeConfig $Stub.KubeConfig -Wait -Timeout 2 -ErrorAction Stop } | Should -Throw -PassThru
        $caught.FullyQualifiedErrorId | Should -BeExactly 'AgentsNotReadyInTime,Gadget.Commands.InstallGadgetCommand'
        $caught.Exception.Message | Should -Match 'Only 0 of 1'
        $caught.Exception.Message | Should -Match 'gadget-node-a on node-a: ImagePullBackOff'
    }
}

Describe 'Traces through the API server' -Skip:$SkipKernel {
    BeforeAll {
        # Each set before anything can fail, so AfterAll stops what did start (agents left running
        # would be counted by the private-agent tests that run next).
        $script:AgentA = $script:AgentB = $script:Stub = $script:Activity = $null
        $script:AgentA = Start-PodAgent -Node 'node-a'
        $script:AgentB = Start-PodAgent -Node 'node-b'
        $script:Stub = Start-KubeStub -Arguments '--agent', "node-a=$($AgentA.Port)", '--agent', "node-b=$($AgentB.Port)"
        $env:KUBECONFIG = $Stub.KubeConfig
        Install-Gadget -ErrorAction Stop
        $script:Marker = New-Marker
        $script:Activity = Start-ExecActivity -Marker $Marker -Path '/bin/echo' -IntervalMilliseconds 200
    }

    AfterAll {
        Stop-ExecActivity $script:Activity | Out-Null
        Stop-KubeStub $script:Stub
        Stop-TestAgent $script:AgentA
        Stop-TestAgent $script:AgentB
    }

    It 'Get-GadgetVersion reports each node''s agent' {
        $versions = Get-GadgetVersion -ErrorAction Stop
        $versions.Node | Sort-Object | Should -BeExactly 'node-a', 'node-b'
        $versions.AgentVersion | Should -Not -Contain 'not installed'
        $versions.Agent | Should -Contain 'pod gadget/gadget-node-a'
    }

    It 'events of both nodes arrive in one pipeline, each with its Node' {
        $events = Trace-GadgetExec -HostOnly -Comm echo -Duration 4 -ErrorAction Stop | Where-Object { $_.Args -contains $Marker }
        $events.Node | Sort-Object -Unique | Should -BeExactly 'node-a', 'node-b'
    }

    It '-Node limits the trace to that node' {
        $events = Trace-GadgetExec -Node node-b -HostOnly -Comm echo -Duration 3 -ErrorAction Stop | Where-Object { $_.Args -contains $Marker }
        $events | Should -Not -BeNullOrEmpty
        $events.Node | Sort-Object -Unique | Should -BeExactly 'node-b'
    }

    It 'snapshots come from every node, each row with its Node' {
        $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
        $listener.Start()
        try {
            $port = $listener.LocalEndpoint.Port
            $sockets = @(Get-GadgetSocket -HostOnly -Pid $PID -State Listen -ErrorAction Stop | Where-Object { $_.Local.Port -eq $port })
            $sockets.Node | Sort-Object | Should -BeExactly 'node-a', 'node-b'
            $processes = @(Get-GadgetProcess -HostOnly -Pid $PID -ErrorAction Stop)
            $processes.Node | Sort-Object | Should -BeExactly 'node-a', 'node-b'
        }
        finally { $listener.Stop() }
    }

    It 'without -HostOnly, -Namespace or -AllNamespaces only the context''s namespace is traced (no host process)' {
        $events = Trace-GadgetExec -Comm echo -Duration 2 -ErrorAction Stop | Where-Object { $_.Args -contains $Marker }
        $events | Should -BeNullOrEmpty
    }

    Context 'a node whose agent is down' {
        BeforeAll {
            $script:DeadPort = Get-FreePort
            $script:Broken = Start-KubeStub -Arguments '--agent', "node-a=$($AgentA.Port)", '--agent', "node-c=$DeadPort"
            Install-Gadget -KubeConfig $Broken.KubeConfig -ErrorAction Stop
        }

        AfterAll {
            Stop-KubeStub $script:Broken
        }

        It 'is a non-terminating error naming the node while the others deliver' {
            $events = Trace-GadgetExec -KubeConfig $Broken.KubeConfig -HostOnly -Comm echo -Duration 3 -ErrorVariable failures -ErrorAction SilentlyContinue |
                Where-Object { $_.Args -contains $Marker }
            $events.Node | Sort-Object -Unique | Should -BeExactly 'node-a'
            $failures.Count | Should -Be 1
            $failures[0].TargetObject | Should -BeExactly 'node-c'
            "$($failures[0])" | Should -Match 'node-c'
        }

        It 'stops the command under -ErrorAction Stop' {
            { Trace-GadgetExec -KubeConfig $Broken.KubeConfig -HostOnly -Duration 3 -ErrorAction Stop } | Should -Throw
        }
    }

    Context 'a port-forward the API server forbids' {
        BeforeAll {
            $script:Forbidding = Start-KubeStub -Arguments '--agent', "node-a=$($AgentA.Port)", '--agent', "node-b=$($AgentB.Port)", '--deny', '"create pods/portforward"'
            Install-Gadget -KubeConfig $Forbidding.KubeConfig -ErrorAction Stop
        }

        AfterAll {
            Stop-KubeStub $script:Forbidding
        }

        It 'is a PermissionDenied error naming pods/portforward in the agents'' namespace' {
            $caught = $null
            try {
                Trace-GadgetExec -KubeConfig $Forbidding.KubeConfig -HostOnly -Duration 3 -ErrorAction Stop
            }
            catch {
                $caught = $_
            }
            $caught.FullyQualifiedErrorId | Should -BeExactly 'KubeForbidden,Gadget.Commands.TraceExecCommand'
            $caught.CategoryInfo.Category | Should -Be 'PermissionDenied'
            "$caught" | Should -Match 'pods/portforward in namespace gadget'
        }

        It 'terminates even when errors are silenced, because every node failed' {
            { Trace-GadgetExec -KubeConfig $Forbidding.KubeConfig -HostOnly -Duration 3 -ErrorAction SilentlyContinue } |
                Should -Throw -ErrorId 'KubeForbidden,Gadget.Commands.TraceExecCommand'
        }
    }
}

Describe 'Invoke-GadgetProgram through the API server' -Skip:$SkipKernel {
    BeforeAll {
        $script:Stub = $script:Allowing = $script:Refusing = $null
        $script:Programs = Get-ChildItem (Join-Path $PSScriptRoot '../Gadget.Tests/bin/*/*/programs') -Directory -ErrorAction Ignore |
            Sort-Object LastWriteTime -Descending | Select-Object -First 1 -ExpandProperty FullName
        # node-a's agent was installed with -AllowPrograms, node-b's without.
        $script:Allowing = Start-PodAgent -Node 'node-a' -ExtraArguments '--allow-programs'
        $script:Refusing = Start-PodAgent -Node 'node-b'
        $script:Stub = Start-KubeStub -Arguments '--agent', "node-a=$($Allowing.Port)", '--agent', "node-b=$($Refusing.Port)"
        $env:KUBECONFIG = $Stub.KubeConfig
        Install-Gadget -ErrorAction Stop
    }

    AfterAll {
        Stop-KubeStub $script:Stub
        Stop-TestAgent $script:Allowing
        Stop-TestAgent $script:Refusing
    }

    It 'runs the program on the nodes that allow it and reports the others as non-terminating errors' {
        $records = Invoke-GadgetProgram -Path (Join-Path $Programs 'snapshot_process.bpf.o') -HostOnly -ErrorVariable failures -ErrorAction SilentlyContinue
        $records.Count | Should -BeGreaterThan 5
        $records.Node | Sort-Object -Unique | Should -BeExactly 'node-a'
        $records | Where-Object proc_pid -eq $PID | Should -HaveCount 1
        $records[0].PSObject.Properties['proc_user'] | Should -BeNullOrEmpty -Because 'this machine''s accounts do not name a node''s users'
        $failures | Should -HaveCount 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'ProgramsNotAllowed,*'
        $failures[0].Exception.Message | Should -Match 'node-b'
    }

    It 'Install-Gadget -AllowPrograms gives the agents the flag' {
        Install-Gadget -AllowPrograms -ErrorAction Stop
        $daemonSet = Invoke-Stub $Stub '/apis/apps/v1/namespaces/gadget/daemonsets/gadget'
        $daemonSet.spec.template.spec.containers[0].args | Should -Contain '--allow-programs'
        Install-Gadget -ErrorAction Stop
        $daemonSet = Invoke-Stub $Stub '/apis/apps/v1/namespaces/gadget/daemonsets/gadget'
        $daemonSet.spec.template.spec.containers[0].args | Should -Not -Contain '--allow-programs'
    }
}
