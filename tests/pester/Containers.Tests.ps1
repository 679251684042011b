#Requires -Version 7.6
# The seed's two investigations inside real containers, through the built module: containerd and
# runc from Debian run busybox-static containers labelled as the kubelet labels pods my-ns/my-app
# and other-ns/other-app. Each pod looks up a name at a resolver that never answers and rewrites
# its /etc/resolv.conf, in a loop.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    $script:SkipKernel = -not ($env:CI -eq 'true' -or ($IsLinux -and [Environment]::IsPrivilegedProcess -and (Test-Path /sys/kernel/btf/vmlinux)))
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force

    function Start-PodContainer {
        # A busybox-static container with the kubelet's labels, on the host network so it can reach
        # the test's loopback resolver.
        param([string] $Namespace, [string] $Pod, [string] $Script)
        $id = "$Pod-$([Guid]::NewGuid().ToString('N').Substring(0, 8))"
        $rootfs = Join-Path $script:Work $id
        foreach ($directory in 'bin', 'etc', 'proc', 'sys', 'dev', 'tmp') { $null = New-Item -ItemType Directory (Join-Path $rootfs $directory) }
        Copy-Item /bin/busybox (Join-Path $rootfs 'bin/busybox')
        foreach ($applet in 'sh', 'sleep', 'echo', 'nslookup', 'true') { $null = New-Item -ItemType SymbolicLink -Path (Join-Path $rootfs "bin/$applet") -Target busybox }
        Set-Content (Join-Path $rootfs 'etc/resolv.conf') 'nameserver 127.0.80.2'
        & ctr -n k8s.io run -d --net-host `
            --label "io.kubernetes.pod.namespace=$Namespace" --label "io.kubernetes.pod.name=$Pod" `
            --label "io.kubernetes.container.name=$Pod" --label "io.kubernetes.pod.uid=$([Guid]::NewGuid())" `
            --label 'app=web' --rootfs $rootfs $id /bin/sh -c $Script | Out-Null
        if ($LASTEXITCODE -ne 0) { throw "ctr run $id failed." }
        $id
    }
}

Describe 'Containers and pods on every event' -Skip:$SkipKernel {
    BeforeAll {
        $script:Work = New-TestDirectory 'gadget-pods'
        $script:Containerd = Start-TestContainerd
        # The resolver that never answers: it receives queries and ignores them.
        $script:Silent = [Net.Sockets.UdpClient]::new([Net.IPEndPoint]::new([ipaddress]'127.0.80.2', 53))
        $script:Marker = 'p' + [Guid]::NewGuid().ToString('N').Substring(0, 10)
        $loop = 'while true; do nslookup {0}.{1}.test 127.0.80.2 >/dev/null 2>&1 & echo "nameserver 127.0.80.2" > /etc/resolv.conf; true {1}; sleep 0.5; done'
        $script:Mine = Start-PodContainer -Namespace my-ns -Pod my-app -Script ($loop -f $Marker, 'my-app')
        $script:Other = Start-PodContainer -Namespace other-ns -Pod other-app -Script ($loop -f $Marker, 'other-app')
        # It runs users' programs too (Invoke-GadgetProgram).
        $script:Agent = Start-TestAgent -ModulePath $ModulePath -ExtraArguments '--allow-programs'
        $env:GADGET_AGENT_SOCKET = $Agent.Socket
        $script:Programs = Get-ChildItem (Join-Path $PSScriptRoot '../Gadget.Tests/bin/*/*/programs') -Directory -ErrorAction Ignore |
            Sort-Object LastWriteTime -Descending | Select-Object -First 1 -ExpandProperty FullName
    }

    AfterAll {
        Remove-Item Env:GADGET_AGENT_SOCKET -ErrorAction Ignore
        Stop-TestAgent $script:Agent
        foreach ($id in $script:Mine, $script:Other) { if ($id) { Remove-CtrContainer $id } }
        if ($script:Silent) { $script:Silent.Dispose() }
        Stop-TestContainerd $script:Containerd
        Remove-Item $script:Work -Recurse -Force -ErrorAction Ignore
    }

    It 'Get-GadgetContainer lists both pods with their namespaces and labels' {
        $containers = @(Get-GadgetContainer -Local | Where-Object Id -in $Mine, $Other)
        $containers.Count | Should -Be 2
        $mine = $containers | Where-Object Id -eq $Mine
        $mine.Namespace | Should -Be 'my-ns'
        $mine.Pod | Should -Be 'my-app'
        $mine.Container | Should -Be 'my-app'
        $mine.PodLabels['app'] | Should -Be 'web'
        $mine | Should -BeOfType ([Gadget.GadgetContainer])
        @(Get-GadgetContainer -Local -Namespace other-ns | Where-Object Id -eq $Mine) | Should -BeNullOrEmpty
    }

    It 'Trace-GadgetDns -Local -Namespace my-ns shows my-app querying a server that never answers' {
        $events = @(Trace-GadgetDns -Local -Namespace my-ns -Duration 6 -ResponseTimeout 1 -Name "$Marker.*")
        $events.Count | Should -BeGreaterThan 0
        $events | ForEach-Object {
            $_.Namespace | Should -Be 'my-ns'
            $_.Pod | Should -Be 'my-app'
            $_.Container | Should -Be 'my-app'
            $_.Name | Should -Be "$Marker.my-app.test."
        }
        $unanswered = @($events | Where-Object Rcode -ne 0)
        $unanswered.Count | Should -BeGreaterThan 0
        $unanswered | ForEach-Object {
            $_.Rcode | Should -Be 'NoResponse'
            $_.Nameserver | Should -Be ([ipaddress]'127.0.80.2')
            $_.Pod | Should -Be 'my-app'
        }
    }

    It 'Trace-GadgetOpen -Local -Namespace my-ns -Path /etc/resolv.conf -Access Write shows the rewrite' {
        $events = @(Trace-GadgetOpen -Local -Namespace my-ns -Path /etc/resolv.conf -Access Write -Duration 3)
        $events.Count | Should -BeGreaterThan 0
        $events | ForEach-Object {
            $_.Pod | Should -Be 'my-app'
            $_.Namespace | Should -Be 'my-ns'
            $_.Path | Should -Be '/etc/resolv.conf'
            $_.FlagsText | Should -BeLike 'O_WRONLY|O_CREAT*'
            $_.Access | Should -Be 'Write'
        }
    }

    It 'Invoke-GadgetProgram -Namespace my-ns selects the pod''s records in the kernel and labels them' {
        $opens = @(Invoke-GadgetProgram -Path (Join-Path $Programs 'trace_open.bpf.o') -Local -Namespace my-ns -Parameter @{ prefix = '/etc/resolv.conf' } -Duration 3)
        $opens.Count | Should -BeGreaterThan 0
        $opens | ForEach-Object {
            $_.Namespace | Should -Be 'my-ns'
            $_.Pod | Should -Be 'my-app'
            $_.Container | Should -Be 'my-app'
            $_.fname | Should -Be '/etc/resolv.conf'
        }
        # The loop rewrites the file (echo >) and nslookup reads it.
        @($opens | Where-Object flags -match 'O_WRONLY').Count | Should -BeGreaterThan 0
        # Inspektor Gadget's filter map (presence selects) and a program without common.h.
        $execs = @(Invoke-GadgetProgram -Path (Join-Path $Programs 'exec_ig_style.bpf.o') -Local -Namespace other-ns -Duration 3 -Statistics)
        $statistics = $execs | Where-Object { $_ -is [Gadget.TraceStatistics] }
        $records = @($execs | Where-Object { $_ -isnot [Gadget.TraceStatistics] })
        $records.Count | Should -BeGreaterThan 0
        $records | ForEach-Object { $_.Pod | Should -Be 'other-app' }
        $statistics.FilteredAgent | Should -Be 0 -Because 'the kernel dropped every other mount namespace'
    }

    It 'shows nothing of my-app with -Namespace other-ns' {
        $dns = @(Trace-GadgetDns -Local -Namespace other-ns -Duration 3 -ResponseTimeout 1 -Name "$Marker.*")
        $opens = @(Trace-GadgetOpen -Local -Namespace other-ns -Path /etc/resolv.conf -Access Write -Duration 3)
        $dns.Count | Should -BeGreaterThan 0
        $opens.Count | Should -BeGreaterThan 0
        @($dns + $opens) | ForEach-Object { $_.Pod | Should -Be 'other-app' }
    }

    It 'traces the containers Get-GadgetContainer passes, in one trace, and no others' {
        $events = @(Get-GadgetContainer -Local -Namespace my-ns | Trace-GadgetExec -Local -Duration 3)
        $events.Count | Should -BeGreaterThan 0
        $events | ForEach-Object { $_.Pod | Should -Be 'my-app'; $_.Namespace | Should -Be 'my-ns' }
        $both = @(Get-GadgetContainer -Local | Where-Object Id -in $Mine, $Other | Trace-GadgetExec -Local -Duration 3)
        @($both.Pod | Sort-Object -Unique) | Should -Be @('my-app', 'other-app')
    }

    It 'completes -Namespace, -Pod and -Container with -Local from the containers of this host' {
        function Get-Completion([string] $Line) { @((TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches | ForEach-Object CompletionText) }
        Get-Completion 'Trace-GadgetExec -Local -Namespace my' | Should -Be @('my-ns')
        $namespaces = Get-Completion 'Trace-GadgetDns -Local -Namespace '
        $namespaces | Should -Contain 'my-ns'
        $namespaces | Should -Contain 'other-ns'
        Get-Completion 'Trace-GadgetOpen -Local -Namespace other-ns -Pod ' | Should -Be @('other-app')
        Get-Completion 'Get-GadgetContainer -Local -Container my-' | Should -Be @('my-app')
    }

    It 'groups an exec trace of every namespace by Namespace and Pod' {
        $groups = @(Trace-GadgetExec -Local -AllNamespaces -Duration 3 | Group-Object Namespace, Pod)
        $groups.Name | Should -Contain 'my-ns, my-app'
        $groups.Name | Should -Contain 'other-ns, other-app'
        $groups.Name | Where-Object { $_ -notmatch '^\S+, \S+$' } | Should -BeNullOrEmpty -Because 'host processes are not in -AllNamespaces'
    }

    It 'selects pods by label and by pod name' {
        $byLabel = @(Trace-GadgetExec -Local -Selector @{ app = 'web' } -Pod my-app -Duration 2)
        $byLabel.Count | Should -BeGreaterThan 0
        $byLabel | ForEach-Object { $_.Pod | Should -Be 'my-app'; $_.PodLabels['app'] | Should -Be 'web' }
        @(Trace-GadgetExec -Local -Selector @{ app = 'db' } -Duration 2) | Should -BeNullOrEmpty
    }

    It 'warns once when the namespace matches nothing yet, and is not an error' {
        $events = @(Trace-GadgetExec -Local -Namespace nothing-here -Duration 1 -WarningVariable warnings -WarningAction SilentlyContinue)
        $events | Should -BeNullOrEmpty
        @($warnings).Count | Should -Be 1
        "$($warnings[0])" | Should -Match 'nothing-here'
    }

    It 'refuses -HostOnly together with a container selector' {
        { Trace-GadgetExec -Local -HostOnly -Namespace my-ns -Duration 1 -ErrorAction Stop } |
            Should -Throw -ErrorId 'ConflictingParameters,Gadget.Commands.TraceExecCommand'
    }
}
