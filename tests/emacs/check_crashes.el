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
          (check-put 'hover (plist-get (plist-get hover :contents) :value)))))
  (error (push (format "%S" err) (alist-get 'errors check-result))))

(with-temp-file (getenv "OUT")
  (insert (json-encode check-result)))
(kill-emacs 0)
