;;; crashloom.el --- Production crashes on the line that crashed, through eglot  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1") (eglot "1.9"))
;; Keywords: tools, languages
;; SPDX-License-Identifier: MIT OR Apache-2.0

;;; Commentary:

;; Crashloom is a language server that shows production crashes as diagnostics.  This file
;; tells eglot how to start it and where a Crashloom workspace begins: the nearest folder with
;; `crashloom.toml' or `.crashloom/', with or without version control.
;;
;;   (add-to-list 'load-path "/path/to/crashloom/editors/emacs")
;;   (require 'crashloom)
;;   (setq crashloom-program "/path/to/crashloom")   ; when not on PATH
;;   (crashloom-setup)                               ; eglot uses Crashloom for `crashloom-modes'
;;   (add-hook 'python-mode-hook #'eglot-ensure)
;;
;; eglot runs one server per buffer, so `crashloom-setup' makes Crashloom the server of
;; `crashloom-modes'.  To keep another server for a mode, leave that mode out of
;; `crashloom-modes' and start Crashloom by hand with M-x crashloom-start.
;; Crashes show through flymake (M-x flymake-show-buffer-diagnostics); M-x eglot-code-actions on
;; a crash line offers "Investigate crash", "Apply validated fix" and the rest.  The agents' steps
;; and the verdict of an investigation show in the echo area, the report opens when it is done,
;; and a fix is shown as a diff and applied only when confirmed.

;;; Code:

(require 'eglot)
(require 'project)
(require 'cl-lib)
(require 'diff)

(defgroup crashloom nil
  "Production crashes on the line that crashed."
  :group 'tools
  :prefix "crashloom-")

(defcustom crashloom-program "crashloom"
  "The crashloom program (a name on PATH or a file name)."
  :type 'string)

(defcustom crashloom-modes
  '(python-mode python-ts-mode js-mode js-ts-mode typescript-mode typescript-ts-mode
    rust-mode rust-ts-mode go-mode go-ts-mode java-mode java-ts-mode ruby-mode ruby-ts-mode
    csharp-mode csharp-ts-mode php-mode kotlin-mode scala-mode)
  "Major modes whose eglot server `crashloom-setup' makes Crashloom."
  :type '(repeat symbol))

(defcustom crashloom-initialization-options nil
  "Settings sent to the server, with the keys of crashloom.toml, as a plist.
For example (:diagnostics (:frames :json-false)).  The Sentry token is read from
SENTRY_AUTH_TOKEN in the server's environment."
  :type 'sexp)

(defcustom crashloom-root-files '("crashloom.toml" ".crashloom")
  "Files or folders that mark the root of a Crashloom workspace."
  :type '(repeat string))

(defclass crashloom-eglot-server (eglot-lsp-server) ()
  :documentation "The Crashloom language server.")

(cl-defmethod eglot-initialization-options ((_server crashloom-eglot-server))
  "Settings for the server: `crashloom-initialization-options'."
  (or crashloom-initialization-options eglot--{}))

(defcustom crashloom-notify-function (lambda (text) (message "%s" text))
  "How progress and verdicts of an investigation are shown; called with the text."
  :type 'function)

(defcustom crashloom-confirm-function #'y-or-n-p
  "Asks before a fix is applied, while its diff is shown; called with the question.
Returns non-nil to apply."
  :type 'function)

(defconst crashloom-fix-buffer "*Crashloom fix*"
  "The buffer that shows a fix as a diff before it is applied.")

(cl-defmethod eglot-client-capabilities :around ((_server crashloom-eglot-server))
  "What eglot can do, and the progress and document showing this file adds."
  (let* ((capabilities (cl-call-next-method))
         (window (copy-sequence (plist-get capabilities :window))))
    (setq window (plist-put window :workDoneProgress t))
    (setq window (plist-put window :showDocument (list :support t)))
    (plist-put capabilities :window window)))

(cl-defmethod eglot-handle-request
  ((_server crashloom-eglot-server) (_method (eql window/workDoneProgress/create)) &key &allow-other-keys)
  "Accept a progress token: its reports arrive as $/progress."
  nil)

(defvar crashloom--progress-titles (make-hash-table :test #'equal)
  "The title of each running progress, by token.")

(cl-defmethod eglot-handle-notification
  ((_server crashloom-eglot-server) (_method (eql $/progress)) &key token value &allow-other-keys)
  "Show the progress VALUE of TOKEN (an investigation's agent steps, then its verdict)."
  (let* ((key (format "%s" token))
         (message (plist-get value :message))
         (title (or (gethash key crashloom--progress-titles) "Crashloom")))
    (pcase (plist-get value :kind)
      ("begin"
       (puthash key (plist-get value :title) crashloom--progress-titles)
       (funcall crashloom-notify-function (format "%s: %s" (plist-get value :title) (or message ""))))
      ("report"
       (let ((percentage (plist-get value :percentage)))
         (funcall crashloom-notify-function
                  (format "%s%s: %s" title (if percentage (format " (%d%%)" percentage) "") (or message "")))))
      ("end"
       (remhash key crashloom--progress-titles)
       (funcall crashloom-notify-function (or message (format "%s: done" title)))))))

(cl-defmethod eglot-handle-request
  ((_server crashloom-eglot-server) (_method (eql window/showDocument)) &key uri takeFocus &allow-other-keys)
  "Open the document at URI (a crash report)."
  (let ((buffer (find-file-noselect (eglot--uri-to-path uri))))
    (if (eq takeFocus t) (pop-to-buffer buffer) (display-buffer buffer))
    (list :success t)))

(defun crashloom--edits-by-file (edit)
  "The (FILE . TEXT-EDITS) of the workspace EDIT, from documentChanges or changes."
  (let ((files nil))
    (mapc (lambda (change)
            (let ((document (plist-get change :textDocument)))
              (when document
                (push (cons (eglot--uri-to-path (plist-get document :uri)) (plist-get change :edits)) files))))
          (plist-get edit :documentChanges))
    (unless files
      (cl-loop for (uri edits) on (plist-get edit :changes) by #'cddr
               do (push (cons (eglot--uri-to-path (format "%s" uri)) edits) files)))
    (nreverse files)))

(defun crashloom--show-diff (edit)
  "Show the workspace EDIT as a unified diff in `crashloom-fix-buffer'; return the files."
  (let ((out (get-buffer-create crashloom-fix-buffer))
        (files (crashloom--edits-by-file edit)))
    (with-current-buffer out
      (let ((inhibit-read-only t)) (erase-buffer)))
    (dolist (file files)
      (let* ((current (find-file-noselect (car file)))
             (fixed (generate-new-buffer " *crashloom fixed*"))
             (part (generate-new-buffer " *crashloom diff*")))
        (unwind-protect
            (progn
              (with-current-buffer fixed
                (insert-buffer-substring current)
                (eglot--apply-text-edits (cdr file)))
              (diff-no-select current fixed "-u" t part)
              (let ((text (with-current-buffer part (buffer-string))))
                (with-current-buffer out
                  (let ((inhibit-read-only t)) (goto-char (point-max)) (insert text)))))
          (kill-buffer fixed)
          (kill-buffer part))))
    (with-current-buffer out
      (diff-mode)
      (goto-char (point-min)))
    (display-buffer out)
    (mapcar #'car files)))

(cl-defmethod eglot-handle-request
  ((_server crashloom-eglot-server) (_method (eql workspace/applyEdit)) &key label edit &allow-other-keys)
  "Show the fix EDIT as a diff, then apply it when `crashloom-confirm-function' agrees."
  (let* ((files (crashloom--show-diff edit))
         (apply (unwind-protect
                    (funcall crashloom-confirm-function
                             (format "Apply %s to %s? " (or label "the validated fix")
                                     (mapconcat #'file-name-nondirectory files ", ")))
                  (when (get-buffer crashloom-fix-buffer)
                    (quit-windows-on crashloom-fix-buffer t)))))
    (if (not apply)
        (list :applied :json-false :failureReason "the user declined the fix in the preview")
      (eglot--apply-workspace-edit edit nil)
      (list :applied t))))

(defun crashloom-root (dir)
  "The nearest folder at or above DIR that holds one of `crashloom-root-files', or nil."
  (let ((roots (delq nil (mapcar (lambda (marker) (locate-dominating-file dir marker))
                                 crashloom-root-files))))
    (when roots
      ;; The innermost: the longest of the candidate folders.
      (file-name-as-directory
       (expand-file-name (car (sort roots (lambda (a b) (> (length a) (length b))))))))))

(defun crashloom-project-find (dir)
  "A project for `project-find-functions': the Crashloom workspace holding DIR."
  (let ((root (crashloom-root dir)))
    (and root (cons 'crashloom root))))

(cl-defmethod project-root ((project (head crashloom)))
  "The folder of a Crashloom PROJECT."
  (cdr project))

(defun crashloom--contact ()
  "How eglot starts the server."
  (list 'crashloom-eglot-server crashloom-program "lsp"))

;;;###autoload
(defun crashloom-setup ()
  "Use Crashloom as eglot's server for `crashloom-modes', with its project root rule."
  (add-hook 'project-find-functions #'crashloom-project-find -50)
  (setq eglot-server-programs
        (cons (cons crashloom-modes (lambda (&rest _) (crashloom--contact)))
              (cl-remove-if (lambda (entry) (equal (car entry) crashloom-modes)) eglot-server-programs))))

;;;###autoload
(defun crashloom-start ()
  "Start Crashloom for the current buffer's workspace, whatever `eglot-server-programs' says."
  (interactive)
  (add-hook 'project-find-functions #'crashloom-project-find -50)
  (let ((project (or (crashloom-project-find default-directory) (project-current))))
    (unless project
      (user-error "No crashloom.toml or .crashloom/ above %s" default-directory))
    (eglot major-mode project 'crashloom-eglot-server (cdr (crashloom--contact))
           (crashloom--language-id major-mode))))

(defun crashloom--language-id (mode)
  "The LSP language id of MODE: its name without -mode or -ts-mode."
  (replace-regexp-in-string "\\(?:-ts\\)?-mode\\'" "" (symbol-name mode)))

(provide 'crashloom)
;;; crashloom.el ends here
