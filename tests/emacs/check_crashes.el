;;; check_crashes.el --- Drives a real Emacs with eglot and the shipped crashloom.el  -*- lexical-binding: t; -*-
;; Opens a file of a copy of the example workspace (no git), waits for the crash diagnostics
;; through flymake, asks for a hover, and writes what Emacs holds to $OUT as JSON.
(require 'json)
(add-to-list 'load-path (expand-file-name "editors/emacs" (getenv "REPO")))
(require 'crashloom)
(setq crashloom-program (getenv "CRASHLOOM_BIN"))
(setq eglot-sync-connect 10)
(crashloom-setup)

(defvar check-result (list (cons 'errors nil)))
(defun check-put (key value) (push (cons key value) check-result))

(defun check-wait (what seconds predicate)
  "Wait up to SECONDS for PREDICATE; note WHAT when it never holds."
  (let ((end (+ (float-time) seconds)))
    (while (and (not (funcall predicate)) (< (float-time) end))
      (accept-process-output nil 0.1))
    (or (funcall predicate)
        (progn (push what (alist-get 'errors check-result)) nil))))

(condition-case err
    (let* ((workspace (file-name-as-directory (getenv "WORKSPACE")))
           (elsewhere (file-name-as-directory (getenv "ELSEWHERE"))))
      (check-put 'root_elsewhere (crashloom-root elsewhere))
      (find-file (expand-file-name "shop/orders.py" workspace))
      (check-put 'project_root (project-root (project-current)))
      (check-put 'vc (and (vc-backend buffer-file-name) t))
      (eglot-ensure)
      ;; eglot-ensure connects after the command that opened the file, as in a session.
      (run-hooks 'post-command-hook)
      (when (check-wait "eglot never connected" 20 #'eglot-current-server)
        (check-put 'server_class (symbol-name (eieio-object-class (eglot-current-server))))
        (check-wait "no crash diagnostics" 20
                    (lambda () (>= (length (flymake-diagnostics)) 5)))
        (check-put 'diagnostics
                   (mapcar (lambda (d)
                             (list (cons 'line (line-number-at-pos (flymake-diagnostic-beg d)))
                                   (cons 'type (symbol-name (flymake-diagnostic-type d)))
                                   (cons 'text (flymake-diagnostic-text d))))
                           (sort (flymake-diagnostics)
                                 (lambda (a b) (< (flymake-diagnostic-beg a) (flymake-diagnostic-beg b))))))
        (let ((hover (jsonrpc-request (eglot-current-server) :textDocument/hover
                                      (list :textDocument (list :uri (eglot--path-to-uri buffer-file-name))
                                            :position (list :line 25 :character 10)))))
          (check-put 'hover (plist-get (plist-get hover :contents) :value)))
        ;; The code actions on the crash line, and none on a line that never crashed.
        (cl-flet ((titles-at (line)
                    (goto-char (point-min))
                    (forward-line (1- line))
                    (back-to-indentation)
                    (mapcar (lambda (a) (plist-get a :title))
                            (eglot-code-actions (point) (line-end-position)))))
          (check-put 'actions_crash (titles-at 26))
          (check-put 'actions_elsewhere (titles-at 3))
          ;; Investigate, then apply the validated fix, as the actions' commands do.
          (let* ((action (seq-find (lambda (a) (string-prefix-p "Investigate crash" (plist-get a :title)))
                                   (progn (goto-char (point-min)) (forward-line 25) (back-to-indentation)
                                          (eglot-code-actions (point) (line-end-position)))))
                 (command (plist-get action :command))
                 (server (eglot-current-server))
                 (result (jsonrpc-request server :workspace/executeCommand
                                          (list :command (plist-get command :command)
                                                :arguments (plist-get command :arguments))
                                          :timeout 240)))
            (check-put 'verdict (plist-get result :verdict))
            (setq eglot-confirm-server-initiated-edits nil)
            (jsonrpc-request server :workspace/executeCommand
                             (list :command "crashloom.applyFix" :arguments (plist-get command :arguments))
                             :timeout 120)
            (check-put 'after_fix (buffer-substring-no-properties (point-min) (point-max)))))))
  (error (push (format "%S" err) (alist-get 'errors check-result))))

(with-temp-file (getenv "OUT")
  (insert (json-encode check-result)))
(kill-emacs 0)
